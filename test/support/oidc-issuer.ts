/**
 * A real OpenID Connect issuer on a loopback port, for tests of ID-token verification (the
 * `oidc` validator, user sign-in). It serves discovery (`/.well-known/openid-configuration`)
 * and a JWKS with its own RS256 and ES256 keys, mints ID tokens (validly signed, or with any
 * algorithm, key id or key a test wants to try), rotates its keys, can go down (every request
 * answers 503) and counts the requests it serves.
 *
 * @example
 * ```ts
 * const idp = await startOidcIssuer();
 * const idToken = await idp.mint({ sub: 'alice', email: 'a@example.com', email_verified: true });
 * // … validator config: { issuer: idp.issuer, audience: idp.audience } …
 * await idp.close();
 * ```
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type KeyObject,
  SignJWT,
} from 'jose';

export type IssuerAlg = 'RS256' | 'ES256';

/** One signing key of the issuer. */
export interface IssuerKey {
  kid: string;
  alg: IssuerAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export interface MintOptions {
  /** JWS algorithm (default: the first key's, RS256). Any value, e.g. 'HS256', for attacks. */
  alg?: string;
  /** `kid` header (default: the current key of `alg`); null leaves it out. */
  kid?: string | null;
  /** Signing key (default: the current key of `alg`); e.g. bytes of the public PEM for HS256. */
  key?: CryptoKey | KeyObject | Uint8Array;
  /** Extra protected-header fields. */
  header?: Record<string, unknown>;
  /** The "now" for default `iat`/`exp` (default: real time). */
  now?: Date;
}

export interface OidcIssuer {
  /** The issuer URL (no trailing slash), as in `iss`. */
  readonly issuer: string;
  /** The audience default tokens are minted for. */
  readonly audience: string;
  readonly jwksUri: string;
  /** The keys published right now, newest first per algorithm. */
  readonly keys: readonly IssuerKey[];
  /** How many discovery and JWKS requests were served (503s included). */
  readonly requests: { discovery: number; jwks: number };
  /**
   * A signed ID token. Defaults: `iss`, `aud`, `sub: 'user-1'`, `iat: now`, `exp: now + 600`;
   * `claims` override them, and a claim set to `undefined` is left out.
   */
  mint(claims?: Record<string, unknown>, options?: MintOptions): Promise<string>;
  /** An unsecured token (`alg: none`, empty signature) with the same defaults. */
  mintUnsigned(claims?: Record<string, unknown>, options?: { now?: Date }): string;
  /** The SPKI PEM of the current key of `alg` (for the HS256-with-public-key attack). */
  publicPem(alg?: IssuerAlg): Promise<string>;
  /** Replaces the keys with fresh ones (new kids); `keepOld` keeps publishing the old ones. */
  rotateKeys(options?: { keepOld?: boolean }): Promise<void>;
  /** While down, every request answers 503. */
  setDown(down: boolean): void;
  /** Overrides what discovery says (e.g. another `issuer`, a broken `jwks_uri`). */
  setDiscovery(overrides: Record<string, unknown>): void;
  close(): Promise<void>;
}

export interface OidcIssuerOptions {
  audience?: string;
}

let kidCounter = 0;

async function newKey(alg: IssuerAlg): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${++kidCounter}-${Date.now().toString(36)}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, publicJwk };
}

function claimsWithDefaults(
  issuer: string,
  audience: string,
  claims: Record<string, unknown>,
  now: Date,
): Record<string, unknown> {
  const iat = Math.floor(now.getTime() / 1000);
  const merged: Record<string, unknown> = {
    iss: issuer,
    aud: audience,
    sub: 'user-1',
    iat,
    exp: iat + 600,
    ...claims,
  };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return merged;
}

/** Starts the issuer on 127.0.0.1 with a free port. */
export async function startOidcIssuer(options: OidcIssuerOptions = {}): Promise<OidcIssuer> {
  const audience = options.audience ?? 'test-client';
  let keys: IssuerKey[] = [await newKey('RS256'), await newKey('ES256')];
  let down = false;
  let discoveryOverrides: Record<string, unknown> = {};
  const requests = { discovery: 0, jwks: 0 };
  let issuer = '';

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/.well-known/openid-configuration') requests.discovery += 1;
    if (path === '/jwks') requests.jwks += 1;
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (down) return json(503, { error: 'temporarily_unavailable' });
    if (path === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        response_types_supported: ['code', 'id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        ...discoveryOverrides,
      });
    }
    if (path === '/jwks') return json(200, { keys: keys.map((k) => k.publicJwk) });
    return json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const current = (alg: string) => keys.find((k) => k.alg === alg);

  return {
    issuer,
    audience,
    jwksUri: `${issuer}/jwks`,
    get keys() {
      return keys;
    },
    requests,
    async mint(claims = {}, opts = {}) {
      const alg = opts.alg ?? 'RS256';
      const own = current(alg);
      const key = opts.key ?? own?.privateKey;
      if (key === undefined) throw new Error(`no ${alg} key: pass options.key`);
      const kid = opts.kid === undefined ? own?.kid : opts.kid;
      const payload = claimsWithDefaults(issuer, audience, claims, opts.now ?? new Date());
      return new SignJWT(payload)
        .setProtectedHeader({
          alg,
          typ: 'JWT',
          ...(kid === null || kid === undefined ? {} : { kid }),
          ...opts.header,
        })
        .sign(key);
    },
    mintUnsigned(claims = {}, opts = {}) {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const payload = claimsWithDefaults(issuer, audience, claims, opts.now ?? new Date());
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
    },
    async publicPem(alg = 'RS256') {
      const key = current(alg);
      if (!key) throw new Error(`no ${alg} key`);
      return exportSPKI(key.publicKey);
    },
    async rotateKeys(opts = {}) {
      const fresh = [await newKey('RS256'), await newKey('ES256')];
      keys = opts.keepOld ? [...fresh, ...keys] : fresh;
    },
    setDown(value) {
      down = value;
    },
    setDiscovery(overrides) {
      discoveryOverrides = overrides;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
