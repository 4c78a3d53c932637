/**
 * Verification of OpenID Connect ID tokens for `AssumeRoleWithWebIdentity`, the way STS does
 * it (`reference/sts-iam.md` §4): the token's `iss` must be a registered provider; the
 * provider's `/.well-known/openid-configuration` and JWKS are fetched over HTTP (with a
 * timeout, cached, refetched once when a token names an unknown `kid`); the signature is
 * checked with jose (RS256/384/512, PS256/384/512, ES256/384/512); then `exp`, `nbf`/`iat`,
 * `aud` against the provider's client ids, and `sub`. Session tags come from the
 * `https://aws.amazon.com/tags` claim. The token itself never appears in an error.
 */
import {
  compactVerify,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import type { Tag } from './account.js';
import { AwsError } from './aws-error.js';
import type { OidcProvider, OidcProviders } from './oidc-providers.js';
import { PATTERNS } from './validation.js';

export const ALLOWED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
];
/** How far in the future `nbf`/`iat` may lie (clock skew). */
export const FUTURE_TOLERANCE_S = 300;
/** Minimum time between two refetches of one provider's JWKS forced by unknown key ids. */
export const REFETCH_COOLDOWN_MS = 10_000;

const invalidToken = (message: string): AwsError =>
  new AwsError('InvalidIdentityToken', 400, message);

const idpCommunication = (cause: unknown): AwsError =>
  new AwsError(
    'IDPCommunicationError',
    400,
    "Couldn't retrieve verification key from your identity provider, please reference " +
      'AssumeRoleWithWebIdentity documentation for requirements',
    { cause },
  );

/** What a verified token says. */
export interface VerifiedWebIdentity {
  provider: OidcProvider;
  claims: JWTPayload;
  subject: string;
  /** The client id (from `aud`) the provider is registered for. */
  audience: string;
  tags: Tag[];
  transitiveTagKeys: string[];
  sourceIdentity: string | undefined;
}

interface CachedKeys {
  jwks: JSONWebKeySet;
  /** When a refetch was last forced by an unknown key id (0: never). */
  forcedAt: number;
}

/** Per-provider JWKS cache; concurrent fetches for one provider share one request. */
export class OidcKeyCache {
  readonly #timeoutMs: number;
  readonly #cached = new Map<string, CachedKeys>();
  readonly #inflight = new Map<string, Promise<CachedKeys>>();

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  async #fetchJson(url: string): Promise<unknown> {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(this.#timeoutMs),
      headers: { accept: 'application/json' },
      redirect: 'error',
    });
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
    return response.json();
  }

  async #fetch(provider: OidcProvider): Promise<CachedKeys> {
    const config = await this.#fetchJson(`${provider.url}/.well-known/openid-configuration`);
    const jwksUri = (config as { jwks_uri?: unknown } | null)?.jwks_uri;
    if (typeof jwksUri !== 'string') throw new Error('the discovery document has no jwks_uri');
    const jwks = await this.#fetchJson(jwksUri);
    const keys = (jwks as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw new Error('the JWKS has no keys array');
    return { jwks: jwks as JSONWebKeySet, forcedAt: 0 };
  }

  /**
   * The provider's keys. `refresh` (a token named an unknown key id) refetches them, unless
   * the last forced refetch was less than the cooldown ago, so a stream of made-up key ids
   * cannot turn into a stream of requests to the issuer.
   */
  async keys(
    provider: OidcProvider,
    refresh: boolean,
  ): Promise<{ jwks: JSONWebKeySet; fresh: boolean }> {
    const cached = this.#cached.get(provider.arn);
    const now = Date.now();
    const stale = cached === undefined || (refresh && now - cached.forcedAt >= REFETCH_COOLDOWN_MS);
    if (!stale) return { jwks: cached.jwks, fresh: false };
    let pending = this.#inflight.get(provider.arn);
    if (pending === undefined) {
      pending = this.#fetch(provider).finally(() => this.#inflight.delete(provider.arn));
      this.#inflight.set(provider.arn, pending);
    }
    try {
      const keys = await pending;
      this.#cached.set(provider.arn, { jwks: keys.jwks, forcedAt: refresh ? now : 0 });
      return { jwks: keys.jwks, fresh: true };
    } catch (cause) {
      throw idpCommunication(cause);
    }
  }

  clear(): void {
    this.#cached.clear();
  }
}

function readTagsClaim(claims: JWTPayload): { tags: Tag[]; transitive: string[] } {
  const claim = claims['https://aws.amazon.com/tags'];
  if (claim === undefined) return { tags: [], transitive: [] };
  const bad = () => invalidToken('The session tags claim https://aws.amazon.com/tags is invalid.');
  if (typeof claim !== 'object' || claim === null || Array.isArray(claim)) throw bad();
  const { principal_tags: principalTags, transitive_tag_keys: transitiveKeys } = claim as Record<
    string,
    unknown
  >;
  const tags: Tag[] = [];
  if (principalTags !== undefined) {
    if (typeof principalTags !== 'object' || principalTags === null) throw bad();
    for (const [key, raw] of Object.entries(principalTags)) {
      const value = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
      if (typeof value !== 'string') throw bad();
      const keyOk = key.length >= 1 && key.length <= 128 && PATTERNS.tagKey.regex.test(key);
      const valueOk = value.length <= 256 && PATTERNS.tagValue.regex.test(value);
      if (!keyOk || !valueOk || key.toLowerCase().startsWith('aws:')) throw bad();
      tags.push({ key, value });
    }
  }
  if (tags.length > 50) throw bad();
  let transitive: string[] = [];
  if (transitiveKeys !== undefined) {
    if (!Array.isArray(transitiveKeys) || !transitiveKeys.every((k) => typeof k === 'string')) {
      throw bad();
    }
    transitive = transitiveKeys as string[];
    const present = new Set(tags.map((t) => t.key.toLowerCase()));
    if (transitive.some((k) => !present.has(k.toLowerCase()))) throw bad();
  }
  return { tags, transitive };
}

/** Verifies `token` as STS would; throws the AWS error STS answers with. */
export async function verifyWebIdentityToken(
  token: string,
  providers: OidcProviders,
  cache: OidcKeyCache,
  now: Date,
): Promise<VerifiedWebIdentity> {
  let claims: JWTPayload;
  try {
    decodeProtectedHeader(token);
    claims = decodeJwt(token);
  } catch {
    throw invalidToken(
      'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)',
    );
  }
  if (typeof claims.iss !== 'string') throw invalidToken('The ID Token has no iss claim.');
  const provider = providers.byIssuer(claims.iss);
  if (provider === undefined) {
    throw invalidToken(`No OpenIDConnect provider found in your account for ${claims.iss}`);
  }

  const verifyWith = async (jwks: JSONWebKeySet) =>
    compactVerify(token, createLocalJWKSet(jwks), { algorithms: ALLOWED_ALGORITHMS });
  let { jwks, fresh } = await cache.keys(provider, false);
  try {
    try {
      await verifyWith(jwks);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || fresh) throw error;
      ({ jwks } = await cache.keys(provider, true));
      await verifyWith(jwks);
    }
  } catch (error) {
    if (error instanceof AwsError) throw error;
    if (error instanceof errors.JWKSNoMatchingKey) {
      throw invalidToken('The ID Token is signed with a key its issuer does not publish.');
    }
    if (error instanceof errors.JOSEAlgNotAllowed) {
      throw invalidToken('The ID Token is signed with an algorithm STS does not accept.');
    }
    throw invalidToken("The ID Token's signature could not be verified.");
  }

  const nowS = Math.floor(now.getTime() / 1000);
  if (typeof claims.exp !== 'number') throw invalidToken('The ID Token has no exp claim.');
  if (claims.exp <= nowS) {
    throw new AwsError(
      'ExpiredTokenException',
      400,
      `Token expired: current date/time ${nowS} must be before the expiration date/time ${claims.exp}`,
    );
  }
  if (typeof claims.nbf === 'number' && claims.nbf > nowS + FUTURE_TOLERANCE_S) {
    throw new AwsError('IDPRejectedClaim', 403, 'The ID Token is not valid yet (nbf).');
  }
  if (typeof claims.iat !== 'number') throw invalidToken('The ID Token has no iat claim.');
  if (claims.iat > nowS + FUTURE_TOLERANCE_S) {
    throw new AwsError('IDPRejectedClaim', 403, 'The ID Token was issued in the future (iat).');
  }
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
  const audience = audiences.find((a) => provider.clientIds.includes(a));
  if (audience === undefined) throw invalidToken('Incorrect token audience');
  if (typeof claims.sub !== 'string' || claims.sub === '') {
    throw invalidToken('The ID Token has no sub claim.');
  }
  const { tags, transitive } = readTagsClaim(claims);
  const source = claims['https://aws.amazon.com/source_identity'];
  if (source !== undefined && (typeof source !== 'string' || !/^[\w+=,.@-]{2,64}$/.test(source))) {
    throw invalidToken('The source identity claim is invalid.');
  }
  return {
    provider,
    claims,
    subject: claims.sub,
    audience,
    tags,
    transitiveTagKeys: transitive,
    sourceIdentity: source,
  };
}
