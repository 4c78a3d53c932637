/**
 * Registration tokens: the JWT a device keeps and trades for credentials. Signed with the
 * registration `KeyRing` (`typ: kv-reg+jwt`), it carries the device id (`sub`), the profile
 * (`kv_profile`) and, for key-bound devices, the key thumbprint (`cnf.jkt`, RFC 9449 §6).
 *
 * `verify` is on the vend hot path. Tokens that verified once are kept in a bounded LRU map
 * keyed by the SHA-256 of the token (never the token itself), so a repeat costs one hash and
 * one map lookup; `exp` is still checked against the clock on every hit, and the cache is
 * dropped whenever a signing key disappears from the ring. The cache only skips signature
 * work: callers still check the device in the store on every request.
 */
import { hash, randomBytes } from 'node:crypto';
import { errors, type JWTHeaderParameters, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { KeyvendError } from '../errors.js';
import { LruCache } from '../lru-cache.js';
import type { KeyRing } from './key-ring.js';

/** What a verified registration token says. */
export interface RegistrationClaims {
  deviceId: string;
  profile: string;
  /** `cnf.jkt`: thumbprint of the key the device must prove possession of, when key-bound. */
  jkt?: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface RegistrationTokensOptions {
  /** `iss` of issued tokens, and the only one accepted. */
  issuer: string;
  /** `aud` of issued tokens, and the only one accepted. */
  audience: string;
  /** Most verified tokens remembered (0 disables the cache). */
  cacheSize: number;
  clock?: () => Date;
}

/** The JOSE `typ` of registration tokens. */
export const REGISTRATION_TOKEN_TYP = 'kv-reg+jwt';
/** Longer strings are refused before any parsing; real tokens are well under 1 KiB. */
const MAX_TOKEN_LENGTH = 8192;
const JKT = /^[A-Za-z0-9_-]{43}$/;

interface Cached {
  claims: RegistrationClaims;
  expiresAtMs: number;
}

function copy(claims: RegistrationClaims): RegistrationClaims {
  const out: RegistrationClaims = {
    deviceId: claims.deviceId,
    profile: claims.profile,
    issuedAt: new Date(claims.issuedAt.getTime()),
    expiresAt: new Date(claims.expiresAt.getTime()),
  };
  if (claims.jkt !== undefined) out.jkt = claims.jkt;
  return out;
}

function invalid(cause?: unknown): KeyvendError {
  return new KeyvendError('KEYVEND_TOKEN_INVALID', undefined, { cause });
}

/** Maps jose's verdicts to keyvend codes; anything else is not the token's fault. */
function translate(error: unknown): KeyvendError {
  if (error instanceof KeyvendError) return error;
  if (error instanceof errors.JWTExpired) {
    return new KeyvendError('KEYVEND_TOKEN_EXPIRED', undefined, { cause: error });
  }
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'aud') {
    return new KeyvendError('KEYVEND_TOKEN_WRONG_AUDIENCE', undefined, { cause: error });
  }
  if (error instanceof errors.JOSEError) return invalid(error);
  return new KeyvendError('KEYVEND_INTERNAL', undefined, { cause: error });
}

function toClaims(payload: JWTPayload): RegistrationClaims {
  const { sub, kv_profile: profile, cnf, iat, exp } = payload;
  if (typeof sub !== 'string' || sub === '') throw invalid();
  if (typeof profile !== 'string' || profile === '') throw invalid();
  if (typeof iat !== 'number' || typeof exp !== 'number') throw invalid();
  const claims: RegistrationClaims = {
    deviceId: sub,
    profile,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
  };
  if (cnf !== undefined) {
    const jkt =
      typeof cnf === 'object' && cnf !== null ? (cnf as { jkt?: unknown }).jkt : undefined;
    if (typeof jkt !== 'string' || !JKT.test(jkt)) throw invalid();
    claims.jkt = jkt;
  }
  return claims;
}

/**
 * Issues and verifies registration tokens.
 *
 * @example
 * ```ts
 * const tokens = new RegistrationTokens(ring, { issuer: 'keyvend', audience: 'keyvend', cacheSize: 10_000 });
 * const token = await tokens.issue({ deviceId, profile: 'mobile', ttlSeconds: 31_536_000 });
 * const { deviceId: id } = await tokens.verify(token);
 * ```
 */
export class RegistrationTokens {
  readonly #ring: KeyRing;
  readonly #issuer: string;
  readonly #audience: string;
  readonly #clock: () => Date;
  readonly #cache: LruCache<string, Cached>;
  #epoch: number;

  constructor(keyRing: KeyRing, opts: RegistrationTokensOptions) {
    this.#ring = keyRing;
    this.#issuer = opts.issuer;
    this.#audience = opts.audience;
    this.#clock = opts.clock ?? (() => new Date());
    this.#cache = new LruCache(opts.cacheSize);
    this.#epoch = keyRing.epoch;
  }

  /** Signs a token for the device with the ring's current key, valid for `ttlSeconds`. */
  async issue(claims: {
    deviceId: string;
    profile: string;
    jkt?: string;
    ttlSeconds: number;
  }): Promise<string> {
    if (!Number.isSafeInteger(claims.ttlSeconds) || claims.ttlSeconds <= 0) {
      throw new RangeError('ttlSeconds must be a positive whole number');
    }
    if (claims.deviceId === '' || claims.profile === '') {
      throw new RangeError('deviceId and profile must not be empty');
    }
    if (claims.jkt !== undefined && !JKT.test(claims.jkt)) {
      throw new RangeError('jkt must be a base64url SHA-256 thumbprint');
    }
    const key = this.#ring.current();
    const iat = Math.floor(this.#clock().getTime() / 1000);
    const payload: JWTPayload = { kv_profile: claims.profile };
    if (claims.jkt !== undefined) payload.cnf = { jkt: claims.jkt };
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: REGISTRATION_TOKEN_TYP })
      .setSubject(claims.deviceId)
      .setIssuer(this.#issuer)
      .setAudience(this.#audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + claims.ttlSeconds)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(key.privateKey);
  }

  /**
   * The claims of a token this keyvend issued, signed by a key still in the ring, for this
   * audience, not expired. Throws `KEYVEND_TOKEN_INVALID` (malformed, forged, unknown key,
   * wrong `typ` or `iss`), `KEYVEND_TOKEN_EXPIRED` or `KEYVEND_TOKEN_WRONG_AUDIENCE`; the
   * token never appears in the error. Does not look at the device.
   */
  async verify(token: string): Promise<RegistrationClaims> {
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) {
      throw invalid();
    }
    if (this.#ring.epoch !== this.#epoch) {
      this.#cache.clear();
      this.#epoch = this.#ring.epoch;
    }
    const digest = hash('sha256', token, 'base64url');
    const now = this.#clock().getTime();
    const hit = this.#cache.get(digest);
    if (hit) {
      if (now < hit.expiresAtMs) return copy(hit.claims);
      this.#cache.delete(digest);
      throw new KeyvendError('KEYVEND_TOKEN_EXPIRED');
    }
    const claims = await this.#verifySignature(token, now);
    this.#cache.set(digest, { claims, expiresAtMs: claims.expiresAt.getTime() });
    return copy(claims);
  }

  async #verifySignature(token: string, now: number): Promise<RegistrationClaims> {
    const resolveKey = async (header: JWTHeaderParameters) => {
      if (typeof header.kid !== 'string') throw invalid();
      const key = await this.#ring.verificationKey(header.kid);
      if (key === undefined) throw invalid();
      return key;
    };
    try {
      const { payload } = await jwtVerify(token, resolveKey, {
        issuer: this.#issuer,
        audience: this.#audience,
        typ: REGISTRATION_TOKEN_TYP,
        algorithms: this.#ring.algorithms(),
        currentDate: new Date(now),
        requiredClaims: ['sub', 'iat', 'exp', 'jti', 'kv_profile'],
      });
      return toClaims(payload);
    } catch (error) {
      throw translate(error);
    }
  }
}
