/**
 * Verifies OpenID Connect ID tokens from one issuer: the `oidc` validator uses it at
 * registration, and user sign-in reuses it. The issuer's `jwks_uri` is discovered from
 * `<issuer>/.well-known/openid-configuration`; the key set is cached, refetched when a token
 * names a key it does not hold (at most once per cool-down, 30 s by default, so a flood of
 * made-up key ids cannot make keyvend hammer the provider) and when it is older than its
 * maximum age. Concurrent fetches share one promise.
 *
 * Algorithms are pinned (RS256 and ES256 unless configured): `alg: none`, and HS256 signed
 * with the provider's RSA public key as the HMAC secret, are refused before any key is looked
 * at. Every refusal is a `KeyvendError` with its own code (`KEYVEND_OIDC_*`, 403); a discovery
 * or key-set fetch that fails is `KEYVEND_VALIDATOR_UNAVAILABLE` (503) keeping the cause.
 */
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyOptions,
  errors as joseErrors,
  jwtVerify,
  type LocalJWKSet,
} from 'jose';
import { type ErrorCode, KeyvendError } from '../errors.js';

export interface OidcVerifierOptions {
  /** Issuer URL, compared exactly with discovery's `issuer` and each token's `iss`. */
  issuer: string;
  /** Accepted `aud` value(s): the client id(s) of the app. */
  audience: string | readonly string[];
  /** Accepted JWS algorithms (default `['RS256', 'ES256']`). Asymmetric only. */
  algorithms?: readonly string[];
  /** Leeway for `exp`, `nbf` and `iat`, in seconds (default 60). */
  clockToleranceSeconds?: number;
  /** Per-request timeout for discovery and key-set fetches (default 5000 ms). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Clock for cache ages and the cool-down (default `() => new Date()`). */
  clock?: () => Date;
  /** Least time between key-set fetches caused by an unknown key id (default 30 s). */
  jwksCooldownSeconds?: number;
  /** A key set older than this is refetched before use (default 3600 s). */
  jwksMaxAgeSeconds?: number;
  /** Discovery is refetched after this long (default 86400 s). */
  discoveryMaxAgeSeconds?: number;
}

export interface VerifyIdTokenOptions {
  /** The time to check `exp`/`nbf`/`iat` against (default: the clock). */
  now?: Date;
  /** When set, the token's `nonce` claim must equal it. */
  nonce?: string;
}

/** A verified ID token. */
export interface VerifiedIdToken {
  issuer: string;
  subject: string;
  claims: JWTPayload;
}

/** Longest ID token accepted. */
export const MAX_ID_TOKEN_LENGTH = 16_384;
/** Largest discovery document or key set read. */
const MAX_DOCUMENT_BYTES = 512 * 1024;

const HMAC_ALGS = /^HS\d+$/;

export class OidcVerifier {
  readonly issuer: string;
  readonly #audience: string | string[];
  readonly #algorithms: string[];
  readonly #tolerance: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #clock: () => Date;
  readonly #cooldownMs: number;
  readonly #jwksMaxAgeMs: number;
  readonly #discoveryMaxAgeMs: number;

  #jwks: { set: LocalJWKSet; fetchedAt: number } | undefined;
  #jwksAttemptAt = Number.NEGATIVE_INFINITY;
  #jwksPending: Promise<LocalJWKSet> | undefined;
  #discovery: { jwksUri: string; fetchedAt: number } | undefined;

  constructor(options: OidcVerifierOptions) {
    const algorithms = [...(options.algorithms ?? ['RS256', 'ES256'])];
    if (algorithms.length === 0 || algorithms.some((a) => a === 'none' || HMAC_ALGS.test(a))) {
      throw new Error('OidcVerifier: algorithms must be a non-empty list of asymmetric algorithms');
    }
    this.issuer = options.issuer;
    this.#audience =
      typeof options.audience === 'string' ? options.audience : [...options.audience];
    this.#algorithms = algorithms;
    this.#tolerance = options.clockToleranceSeconds ?? 60;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#clock = options.clock ?? (() => new Date());
    this.#cooldownMs = (options.jwksCooldownSeconds ?? 30) * 1000;
    this.#jwksMaxAgeMs = (options.jwksMaxAgeSeconds ?? 3600) * 1000;
    this.#discoveryMaxAgeMs = (options.discoveryMaxAgeSeconds ?? 86_400) * 1000;
  }

  /**
   * Verifies `idToken`: signature with the issuer's published key, algorithm, `iss`, `aud`,
   * `exp`/`nbf`/`iat`, a non-empty `sub`, and `nonce` when asked.
   *
   * @throws KeyvendError `KEYVEND_OIDC_*` (403) when the token is refused;
   *   `KEYVEND_VALIDATOR_UNAVAILABLE` (503) when the issuer's keys cannot be fetched.
   * @example
   * ```ts
   * const google = new OidcVerifier({ issuer: 'https://accounts.google.com', audience: CLIENT_ID });
   * const { issuer, subject, claims } = await google.verify(idToken);
   * ```
   */
  async verify(idToken: string, options: VerifyIdTokenOptions = {}): Promise<VerifiedIdToken> {
    if (
      typeof idToken !== 'string' ||
      idToken.length === 0 ||
      idToken.length > MAX_ID_TOKEN_LENGTH
    ) {
      throw refuse('KEYVEND_OIDC_TOKEN_INVALID', 'malformed');
    }
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(idToken).alg;
    } catch (cause) {
      throw refuse('KEYVEND_OIDC_TOKEN_INVALID', 'malformed', cause);
    }
    if (typeof alg !== 'string' || !this.#algorithms.includes(alg)) {
      throw refuse('KEYVEND_OIDC_ALG_NOT_ALLOWED', 'alg-not-allowed');
    }

    const verifyOptions: JWTVerifyOptions = {
      issuer: this.issuer,
      audience: this.#audience,
      algorithms: this.#algorithms,
      clockTolerance: this.#tolerance,
      currentDate: options.now ?? this.#clock(),
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    };
    let payload: JWTPayload;
    try {
      payload = (
        await jwtVerify(idToken, (header, token) => this.#key(header, token), verifyOptions)
      ).payload;
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSMultipleMatchingKeys)) throw translate(err);
      payload = await this.#verifyWithCandidates(idToken, err, verifyOptions);
    }

    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 255) {
      throw refuse('KEYVEND_OIDC_TOKEN_INVALID', 'sub-invalid');
    }
    if (options.nonce !== undefined && payload.nonce !== options.nonce) {
      throw refuse('KEYVEND_OIDC_NONCE_MISMATCH', 'nonce-mismatch');
    }
    return { issuer: payload.iss as string, subject: payload.sub, claims: payload };
  }

  /** A token without `kid` matched several keys: try each (jose hands them over as an iterator). */
  async #verifyWithCandidates(
    idToken: string,
    candidates: joseErrors.JWKSMultipleMatchingKeys,
    verifyOptions: JWTVerifyOptions,
  ): Promise<JWTPayload> {
    for await (const key of candidates) {
      try {
        return (await jwtVerify(idToken, key, verifyOptions)).payload;
      } catch (err) {
        if (err instanceof joseErrors.JWSSignatureVerificationFailed) continue;
        throw translate(err);
      }
    }
    throw refuse('KEYVEND_OIDC_TOKEN_INVALID', 'signature');
  }

  async #key(
    header: Parameters<LocalJWKSet>[0],
    token: Parameters<LocalJWKSet>[1],
  ): Promise<Awaited<ReturnType<LocalJWKSet>>> {
    const now = this.#clock().getTime();
    let set =
      this.#jwks !== undefined && now - this.#jwks.fetchedAt < this.#jwksMaxAgeMs
        ? this.#jwks.set
        : await this.#refreshJwks();
    try {
      return await set(header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
    }
    // Unknown key: the issuer may have rotated. Refetch, unless we just did.
    if (this.#jwksPending === undefined && now - this.#jwksAttemptAt < this.#cooldownMs) {
      throw refuse('KEYVEND_OIDC_UNKNOWN_KEY', 'unknown-key');
    }
    set = await this.#refreshJwks();
    try {
      return await set(header, token);
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey) {
        throw refuse('KEYVEND_OIDC_UNKNOWN_KEY', 'unknown-key');
      }
      throw err;
    }
  }

  #refreshJwks(): Promise<LocalJWKSet> {
    this.#jwksPending ??= (async () => {
      this.#jwksAttemptAt = this.#clock().getTime();
      try {
        const uri = await this.#jwksUri();
        const doc = await this.#fetchJson(uri, 'key set');
        let set: LocalJWKSet;
        try {
          set = createLocalJWKSet(doc as Parameters<typeof createLocalJWKSet>[0]);
        } catch (cause) {
          throw this.#unavailable('published a malformed key set', cause);
        }
        this.#jwks = { set, fetchedAt: this.#clock().getTime() };
        return set;
      } finally {
        this.#jwksPending = undefined;
      }
    })();
    return this.#jwksPending;
  }

  async #jwksUri(): Promise<string> {
    const now = this.#clock().getTime();
    if (
      this.#discovery !== undefined &&
      now - this.#discovery.fetchedAt < this.#discoveryMaxAgeMs
    ) {
      return this.#discovery.jwksUri;
    }
    const url = `${this.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const doc = (await this.#fetchJson(url, 'discovery document')) as Record<string, unknown>;
    if (doc.issuer !== this.issuer) {
      throw this.#unavailable('discovery names another issuer');
    }
    const jwksUri = doc.jwks_uri;
    if (typeof jwksUri !== 'string' || !/^https?:\/\//.test(jwksUri) || !URL.canParse(jwksUri)) {
      throw this.#unavailable('discovery has no usable jwks_uri');
    }
    this.#discovery = { jwksUri, fetchedAt: this.#clock().getTime() };
    return jwksUri;
  }

  async #fetchJson(url: string, what: string): Promise<unknown> {
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await res.text();
    } catch (cause) {
      const timedOut = (cause as Error)?.name === 'TimeoutError';
      throw this.#unavailable(
        timedOut
          ? `${what} did not arrive within ${this.#timeoutMs} ms`
          : `${what} could not be fetched`,
        cause,
      );
    }
    if (res.status !== 200) throw this.#unavailable(`${what} answered HTTP ${res.status}`);
    if (text.length > MAX_DOCUMENT_BYTES) throw this.#unavailable(`${what} is too large`);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (cause) {
      throw this.#unavailable(`${what} is not JSON`, cause);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw this.#unavailable(`${what} is not a JSON object`);
    }
    return doc;
  }

  #unavailable(why: string, cause?: unknown): KeyvendError {
    // The message stays generic (5xx); what went wrong is in the cause, for the log.
    return new KeyvendError('KEYVEND_VALIDATOR_UNAVAILABLE', undefined, {
      cause: new Error(`OpenID provider ${this.issuer}: ${why}`, { cause }),
    });
  }
}

function refuse(code: ErrorCode, reason: string, cause?: unknown): KeyvendError {
  return new KeyvendError(code, undefined, {
    details: { reason },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** jose's refusal → keyvend's code. Anything keyvend threw itself passes through. */
function translate(err: unknown): KeyvendError {
  if (err instanceof KeyvendError) return err;
  if (err instanceof joseErrors.JWTExpired)
    return refuse('KEYVEND_OIDC_TOKEN_EXPIRED', 'expired', err);
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return refuse('KEYVEND_OIDC_WRONG_ISSUER', 'wrong-issuer', err);
    if (err.claim === 'aud') return refuse('KEYVEND_OIDC_WRONG_AUDIENCE', 'wrong-audience', err);
    return refuse('KEYVEND_OIDC_TOKEN_INVALID', `claim-${err.claim}-${err.reason}`, err);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return refuse('KEYVEND_OIDC_ALG_NOT_ALLOWED', 'alg-not-allowed', err);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return refuse('KEYVEND_OIDC_TOKEN_INVALID', 'signature', err);
  }
  return refuse('KEYVEND_OIDC_TOKEN_INVALID', 'malformed', err);
}
