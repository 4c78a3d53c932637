/**
 * How long vended credentials live (Vault's rule): the request's TTL, else the profile's
 * default; clamped to the profile's maximum, to the issuer's maximum (a role's
 * MaxSessionDuration) and to STS's own 900–129,600 s. Too short is raised to STS's minimum
 * rather than refused, since a device cannot know the bounds; a value that is not a positive
 * whole number is the caller's mistake.
 */
import type { ProfileConfig } from '../config/schema.js';
import { STS_MAX_TTL, STS_MIN_TTL } from '../config/schema.js';
import { KeyvendError } from '../errors.js';

/**
 * The effective DurationSeconds for one issuance.
 *
 * @param requested - the client's `ttl`, if any (untrusted).
 * @param profile - supplies `ttl.default` and `ttl.max`.
 * @param issuerMax - the issuer's own ceiling, e.g. an assume-role issuer's `maxSessionDuration`.
 * @throws `KEYVEND_TTL_INVALID` (400) when `requested` is not a positive whole number.
 *
 * @example
 * ```ts
 * computeTtl(undefined, profile);          // profile.ttl.default
 * computeTtl(60, profile);                 // 900 (STS's minimum)
 * computeTtl(7200, profile, 3600);         // 3600 (the role's maximum)
 * ```
 */
export function computeTtl(
  requested: number | undefined,
  profile: Pick<ProfileConfig, 'ttl'>,
  issuerMax?: number,
): number {
  if (requested !== undefined && !(Number.isSafeInteger(requested) && requested > 0)) {
    throw new KeyvendError(
      'KEYVEND_TTL_INVALID',
      'ttl must be a positive whole number of seconds.',
    );
  }
  const ceiling = Math.min(profile.ttl.max, STS_MAX_TTL, issuerMax ?? STS_MAX_TTL);
  const wanted = requested ?? profile.ttl.default;
  return Math.max(STS_MIN_TTL, Math.min(wanted, ceiling));
}
