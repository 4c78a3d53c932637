/**
 * Proof of possession for key-bound devices (RFC 9449, DPoP). A device registers a public
 * key; its registration token then carries the key's thumbprint (`cnf.jkt`), and every use of
 * the token comes with a fresh proof: a JWT signed by the device's private key over the HTTP
 * method, the URL, the time and a hash of the token. A stolen token is useless without the
 * key, and a captured proof cannot be replayed (each `jti` is recorded in the store) or used
 * for another request.
 *
 * Only ES256 (P-256) and EdDSA (Ed25519) device keys are accepted. Server-issued DPoP nonces
 * (RFC 9449 §8) are not used: the `iat` window plus the replay record bound a proof's life.
 */
import { createHash } from 'node:crypto';
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  errors,
  importJWK,
  type JWK,
  jwtVerify,
} from 'jose';
import { KeyvendError } from '../errors.js';
import type { Store } from '../stores/store.js';

/** The JOSE `typ` of DPoP proofs. */
export const DPOP_TYP = 'dpop+jwt';
const DEFAULT_MAX_AGE_SECONDS = 60;
const MAX_PROOF_LENGTH = 4096;
const MAX_JTI_LENGTH = 256;
/** Members a public JWK must not have: private parts of EC/OKP/RSA keys and symmetric keys. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const COORDINATE = /^[A-Za-z0-9_-]{43}$/; // 32 bytes, base64url without padding

/** RFC 7638 SHA-256 thumbprint of a JWK, base64url (the `jkt` of RFC 9449). */
export function thumbprintOf(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256');
}

function badKey(cause?: unknown): KeyvendError {
  return new KeyvendError('KEYVEND_PUBLIC_KEY_INVALID', undefined, { cause });
}

function algFor(jwk: JWK): 'ES256' | 'EdDSA' {
  return jwk.kty === 'EC' ? 'ES256' : 'EdDSA';
}

/**
 * Checks untrusted input is a public ES256 (EC P-256) or EdDSA (OKP Ed25519) JWK and returns
 * its canonical form (only `kty`, `crv`, `x`, `y`) with its thumbprint. Throws
 * `KEYVEND_PUBLIC_KEY_INVALID` for anything else: private parts, other curves or key types,
 * malformed coordinates, points not on the curve.
 */
export async function parsePublicKey(input: unknown): Promise<{ jwk: JWK; jkt: string }> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw badKey();
  const raw = input as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((member) => member in raw)) {
    throw new KeyvendError(
      'KEYVEND_PUBLIC_KEY_INVALID',
      'The key has private parts: send only the public key.',
    );
  }
  let jwk: JWK;
  if (raw.kty === 'EC' && raw.crv === 'P-256') {
    if (typeof raw.x !== 'string' || typeof raw.y !== 'string') throw badKey();
    if (!COORDINATE.test(raw.x) || !COORDINATE.test(raw.y)) throw badKey();
    jwk = { kty: 'EC', crv: 'P-256', x: raw.x, y: raw.y };
  } else if (raw.kty === 'OKP' && raw.crv === 'Ed25519') {
    if (typeof raw.x !== 'string' || !COORDINATE.test(raw.x)) throw badKey();
    jwk = { kty: 'OKP', crv: 'Ed25519', x: raw.x };
  } else {
    throw badKey();
  }
  if (raw.alg !== undefined && raw.alg !== algFor(jwk)) throw badKey();
  try {
    // WebCrypto refuses EC points that are not on the curve.
    await importJWK(jwk, algFor(jwk));
  } catch (error) {
    throw badKey(error);
  }
  return { jwk, jkt: await thumbprintOf(jwk) };
}

export interface VerifyDpopOptions {
  /** The request's HTTP method, e.g. `POST`. */
  method: string;
  /** The request's absolute URL as the client addressed it (keyvend's public URL + path). */
  url: string;
  /** The `cnf.jkt` of the registration token: the proof must be signed by that key. */
  expectedJkt: string;
  /** The token the proof accompanies; when given, the proof's `ath` must be its hash. */
  accessToken?: string;
  now: Date;
  /** Where used `jti`s are recorded. */
  store: Store;
  /** How far `iat` may be from `now`, either way (default 60 s). */
  maxAgeSeconds?: number;
}

function proofInvalid(message?: string, cause?: unknown): KeyvendError {
  return new KeyvendError(
    'KEYVEND_PROOF_INVALID',
    message === undefined ? undefined : `The DPoP proof is not valid: ${message}.`,
    { cause },
  );
}

/**
 * RFC 9449 §4.3: the URL without query and fragment; scheme and host lowercased and the
 * default port dropped (the WHATWG URL parser does both). Undefined when not http(s).
 */
function normaliseHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** `ath` of a token (RFC 9449 §4.2): base64url(SHA-256(token)). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Checks a DPoP proof for one request (RFC 9449 §4.3) and records its `jti` so it cannot be
 * used again. Throws `KEYVEND_PROOF_REQUIRED` when there is none, `KEYVEND_PROOF_KEY_MISMATCH`
 * when it is signed by another key than `expectedJkt`, `KEYVEND_PROOF_REPLAYED` when its
 * `jti` was already used, and `KEYVEND_PROOF_INVALID` for everything else (shape, `typ`,
 * `alg`, signature, `htm`, `htu`, `iat`, `ath`). A replay record is written only for a proof
 * that passed every other check.
 */
export async function verifyDpopProof(
  proof: string | undefined,
  opts: VerifyDpopOptions,
): Promise<void> {
  if (proof === undefined || proof === '') throw new KeyvendError('KEYVEND_PROOF_REQUIRED');
  if (typeof proof !== 'string' || proof.length > MAX_PROOF_LENGTH) throw proofInvalid();
  const maxAge = opts.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (error) {
    throw proofInvalid(undefined, error);
  }
  if (header.typ !== DPOP_TYP) throw proofInvalid('typ must be dpop+jwt');
  if (header.alg !== 'ES256' && header.alg !== 'EdDSA') {
    throw proofInvalid('alg must be ES256 or EdDSA');
  }
  let jwk: JWK;
  let jkt: string;
  try {
    ({ jwk, jkt } = await parsePublicKey(header.jwk));
  } catch (error) {
    throw proofInvalid('the header must carry a public ES256 or EdDSA jwk', error);
  }
  if (algFor(jwk) !== header.alg) throw proofInvalid('alg does not match the jwk');
  // Cheap and decisive, so before the signature: a proof by another key is refused outright.
  if (jkt !== opts.expectedJkt) throw new KeyvendError('KEYVEND_PROOF_KEY_MISMATCH');

  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    const key = await importJWK(jwk, header.alg);
    ({ payload } = await jwtVerify(proof, key, {
      algorithms: [header.alg],
      typ: DPOP_TYP,
      currentDate: opts.now,
    }));
  } catch (error) {
    if (error instanceof errors.JOSEError) throw proofInvalid(undefined, error);
    throw error;
  }

  if (payload.htm !== opts.method) throw proofInvalid('htm does not match the request method');
  const htu = typeof payload.htu === 'string' ? normaliseHtu(payload.htu) : undefined;
  if (htu === undefined || htu !== normaliseHtu(opts.url)) {
    throw proofInvalid('htu does not match the request URL');
  }
  const iat = payload.iat;
  const nowSeconds = opts.now.getTime() / 1000;
  if (typeof iat !== 'number' || !Number.isFinite(iat) || Math.abs(nowSeconds - iat) > maxAge) {
    throw proofInvalid('iat is missing or too far from the current time');
  }
  const { jti } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) {
    throw proofInvalid('jti is missing');
  }
  if (opts.accessToken !== undefined) {
    const ath = payload.ath;
    if (typeof ath !== 'string' || ath !== accessTokenHash(opts.accessToken)) {
      throw proofInvalid('ath does not match the token');
    }
  }

  // The proof is acceptable until iat + maxAge; the record must outlive that.
  const expiresAt = new Date((iat + maxAge + 1) * 1000);
  if (!(await opts.store.markOnce(`dpop:${jkt}:${jti}`, expiresAt))) {
    throw new KeyvendError('KEYVEND_PROOF_REPLAYED');
  }
}
