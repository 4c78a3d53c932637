/**
 * The issuer table: config `type` → issuer class (Vault's path table, for issuers). Called
 * once per profile at start-up; each issuer gets its own `Resilience` (retries plus a circuit
 * breaker), so one failing role does not trip another profile's breaker. The config rules a
 * schema cannot express are checked here, so a mistake stops start-up with a `ConfigError`
 * naming the key instead of failing the first vend.
 */
import type { STSClient } from '@aws-sdk/client-sts';
import type { IssuerConfig } from '../config/issuer-schemas.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { AssumeRoleIssuer } from './assume-role.js';
import { FederationTokenIssuer } from './federation-token.js';
import { type BreakerState, Resilience, type ResilienceOptions } from './resilience.js';
import { DEVICE_TAG_KEY, PROFILE_TAG_KEY } from './session-tags.js';
import { type OidcKeySource, WebIdentityIssuer } from './web-identity.js';

/** The few logger methods issuers use (a Fastify/pino logger fits). */
export interface IssuerLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface IssuerDeps {
  /** keyvend's shared STS client (`createStsClient`). */
  sts: STSClient;
  /** The whole config: `aws.maxAttempts` for retries, `file` and profiles for error messages. */
  config?: Pick<Config, 'aws' | 'file' | 'profiles'>;
  logger?: IssuerLogger;
  /** Name of the profile the issuer serves (for messages); found in `config` when absent. */
  profileName?: string;
  /** keyvend's OIDC provider; required by `web-identity` issuers. */
  oidc?: { keyRing: OidcKeySource; issuerUrl: string | (() => string) };
  /** Overrides for the breaker and retries (tests; `maxAttempts` defaults to the config's). */
  resilience?: ResilienceOptions;
  clock?: () => Date;
}

/** The issuers `createIssuer` can return, by type. */
export type AnyIssuer = FederationTokenIssuer | AssumeRoleIssuer | WebIdentityIssuer;

/**
 * Builds the issuer for one profile's `issuer` config.
 *
 * @throws `ConfigError` naming the key when the config breaks a cross-field rule, or a
 *   `web-identity` issuer is built without `deps.oidc`.
 * @example
 * ```ts
 * const issuer = createIssuer(profile.issuer, { sts, config, logger, profileName: 'mobile' });
 * const creds = await issuer.issue(request);
 * ```
 */
export function createIssuer(config: IssuerConfig, deps: IssuerDeps): AnyIssuer {
  const where = keyPath(config, deps);
  const file = deps.config?.file ?? '<inline>';
  const resilience = new Resilience({
    ...(deps.config === undefined ? {} : { maxAttempts: deps.config.aws.maxAttempts }),
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
    onStateChange: (state: BreakerState) => logBreaker(deps.logger, where, state),
    ...deps.resilience,
  });
  switch (config.type) {
    case 'federation-token':
      return new FederationTokenIssuer({ sts: deps.sts, resilience });
    case 'assume-role':
      checkTags(file, `${where}.sessionTags`, config.sessionTags, config.transitiveTagKeys);
      return new AssumeRoleIssuer(config, { sts: deps.sts, resilience });
    case 'web-identity': {
      checkTags(file, `${where}.claimTags`, config.claimTags, config.transitiveTagKeys);
      if (deps.oidc === undefined) {
        throw new ConfigError(file, [
          `${where}.type: web-identity needs keyvend's OIDC provider (server.publicUrl and an oidc key ring)`,
        ]);
      }
      return new WebIdentityIssuer(config, {
        sts: deps.sts,
        resilience,
        keys: deps.oidc.keyRing,
        issuerUrl: deps.oidc.issuerUrl,
        ...(deps.clock === undefined ? {} : { clock: deps.clock }),
      });
    }
  }
}

/** The issuer's config key, e.g. `profiles.mobile.issuer`. */
function keyPath(config: IssuerConfig, deps: IssuerDeps): string {
  const name =
    deps.profileName ??
    Object.entries(deps.config?.profiles ?? {}).find(([, p]) => p.issuer === config)?.[0];
  return name === undefined ? 'issuer' : `profiles.${name}.issuer`;
}

/** Tag keys equal ignoring case, and transitive keys that name no tag. */
function checkTags(
  file: string,
  key: string,
  templates: Readonly<Record<string, string>>,
  transitive: readonly string[],
): void {
  const problems: string[] = [];
  const known = new Map<string, string>([
    [DEVICE_TAG_KEY, DEVICE_TAG_KEY],
    [PROFILE_TAG_KEY, PROFILE_TAG_KEY],
  ]);
  for (const tag of Object.keys(templates)) {
    const folded = tag.toLowerCase();
    const clash = known.get(folded);
    if (clash !== undefined) {
      problems.push(`${key}.${tag}: same key as ${clash} (tag keys are case-insensitive)`);
    }
    known.set(folded, tag);
  }
  const transitiveKey = key.replace(/\.(sessionTags|claimTags)$/, '.transitiveTagKeys');
  for (const [i, tag] of transitive.entries()) {
    if (!known.has(tag.toLowerCase())) {
      problems.push(`${transitiveKey}[${i}]: ${JSON.stringify(tag)} names no session tag`);
    }
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
}

function logBreaker(logger: IssuerLogger | undefined, where: string, state: BreakerState): void {
  if (logger === undefined) return;
  if (state === 'open') {
    logger.warn(
      { issuer: where },
      'STS circuit breaker open: failing fast after repeated STS failures',
    );
  } else if (state === 'closed') {
    logger.info({ issuer: where }, 'STS circuit breaker closed: STS answers again');
  }
}
