/**
 * The device side of proof of possession (RFC 9449, DPoP): a device key pair whose private
 * half never leaves the platform keystore (non-extractable WebCrypto key), and the signed
 * proof sent with each use of a key-bound registration token.
 *
 * Runs in browsers, React Native and Node: only `globalThis.crypto` (WebCrypto) and
 * `TextEncoder`, no Node APIs, no dependencies, no imports.
 */

export type DeviceKeyAlg = 'ES256';

export interface DpopProofInput {
  keyPair: CryptoKeyPair;
  /** HTTP method of the request, e.g. `POST`. */
  method: string;
  /** Absolute URL of the request; query and fragment are left out of the proof. */
  url: string;
  /** The registration token sent with the request; its hash goes in `ath`. */
  accessToken?: string;
  /** Defaults to the current time. */
  now?: Date;
  /** Unique proof id; defaults to 128 random bits. */
  jti?: string;
}

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function subtle(): SubtleCrypto {
  const crypto = globalThis.crypto;
  if (!crypto?.subtle) throw new Error('keyvend/client needs WebCrypto (globalThis.crypto.subtle)');
  return crypto.subtle;
}

function base64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += BASE64URL[n >>> 18]! + BASE64URL[(n >>> 12) & 63]! + BASE64URL[(n >>> 6) & 63]!;
    out += BASE64URL[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += BASE64URL[n >>> 18]! + BASE64URL[(n >>> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += BASE64URL[n >>> 18]! + BASE64URL[(n >>> 12) & 63]! + BASE64URL[(n >>> 6) & 63]!;
  }
  return out;
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text);
}

function jsonPart(value: unknown): string {
  return base64url(utf8(JSON.stringify(value)));
}

/** The URL as RFC 9449 `htu` wants it: without query and fragment. */
function htuOf(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}

/**
 * Generates a device key pair. The private key is not extractable: it can sign, and be stored
 * (e.g. in IndexedDB), but its bytes cannot be read out by script.
 */
export async function generateDeviceKey(alg: DeviceKeyAlg = 'ES256'): Promise<CryptoKeyPair> {
  if (alg !== 'ES256') throw new Error(`unsupported device key algorithm ${String(alg)}`);
  return subtle().generateKey(ECDSA_P256, false, ['sign', 'verify']);
}

/** The public JWK of a device key (only `kty`, `crv`, `x`, `y`), to send at registration. */
export async function exportPublicJwk(key: CryptoKey | CryptoKeyPair): Promise<JsonWebKey> {
  const publicKey = 'publicKey' in key ? key.publicKey : key;
  if (publicKey.type !== 'public') throw new Error('exportPublicJwk needs the public key');
  const jwk = await subtle().exportKey('jwk', publicKey);
  const out: JsonWebKey = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  return out;
}

/**
 * A DPoP proof (compact JWS, `typ: dpop+jwt`, ES256) for one request, carrying the public key
 * in its header. Send it as the `DPoP` header.
 *
 * @example
 * ```ts
 * const keyPair = await generateDeviceKey();
 * const proof = await createDpopProof({ keyPair, method: 'POST', url, accessToken: token });
 * await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, dpop: proof } });
 * ```
 */
export async function createDpopProof(input: DpopProofInput): Promise<string> {
  const crypto = subtle();
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: await exportPublicJwk(input.keyPair) };
  const payload: Record<string, unknown> = {
    jti: input.jti ?? base64url(globalThis.crypto.getRandomValues(new Uint8Array(16))),
    htm: input.method,
    htu: htuOf(input.url),
    iat: Math.floor((input.now ?? new Date()).getTime() / 1000),
  };
  if (input.accessToken !== undefined) {
    const digest = await crypto.digest('SHA-256', utf8(input.accessToken));
    payload.ath = base64url(new Uint8Array(digest));
  }
  const signingInput = `${jsonPart(header)}.${jsonPart(payload)}`;
  // WebCrypto's ECDSA signature is already the raw r||s that JWS wants.
  const signature = await crypto.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    input.keyPair.privateKey,
    utf8(signingInput),
  );
  return `${signingInput}.${base64url(new Uint8Array(signature))}`;
}
