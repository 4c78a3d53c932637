/**
 * The device side of DPoP: keys and proofs made with `src/client/dpop.ts` (WebCrypto only),
 * checked by the server's own verifier, plus the proofs an attacker would try instead.
 */
import { readFileSync } from 'node:fs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDpopProof, exportPublicJwk, generateDeviceKey } from '../../src/client/dpop.js';
import { type ErrorCode, KeyvendError } from '../../src/errors.js';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.js';
import { accessTokenHash, parsePublicKey, verifyDpopProof } from '../../src/tokens/dpop.js';

const T0 = Date.UTC(2030, 0, 1);
const URL_ = 'https://keyvend.example/v1/credentials';
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJkLTEifQ.c2ln';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(KeyvendError);
    return (error as KeyvendError).code;
  }
  throw new Error('expected a KeyvendError');
}

let now: number;
let store: SqliteStore;
let keyPair: CryptoKeyPair;
let jkt: string;

beforeEach(async () => {
  now = T0;
  store = await SqliteStore.open(':memory:', { clock: () => new Date(now) });
  keyPair = await generateDeviceKey();
  ({ jkt } = await parsePublicKey(await exportPublicJwk(keyPair)));
});
afterEach(async () => {
  await store.close();
});

const verify = (proof: string | undefined, overrides: { method?: string; url?: string } = {}) =>
  verifyDpopProof(proof, {
    method: overrides.method ?? 'POST',
    url: overrides.url ?? URL_,
    expectedJkt: jkt,
    accessToken: TOKEN,
    now: new Date(now),
    store,
  });

const make = (extra: { now?: Date; accessToken?: string; url?: string; method?: string } = {}) =>
  createDpopProof({
    keyPair,
    method: extra.method ?? 'POST',
    url: extra.url ?? URL_,
    accessToken: extra.accessToken ?? TOKEN,
    now: extra.now ?? new Date(now),
  });

describe('client device keys', () => {
  it('makes a P-256 key pair whose private half cannot be exported', async () => {
    expect(keyPair.privateKey.extractable).toBe(false);
    expect(keyPair.privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    await expect(crypto.subtle.exportKey('jwk', keyPair.privateKey)).rejects.toThrow();
  });

  it('exports just the public JWK members, accepted by the server', async () => {
    const jwk = await exportPublicJwk(keyPair.publicKey);
    expect(Object.keys(jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(await exportPublicJwk(keyPair)).toEqual(jwk);
    expect((await parsePublicKey(jwk)).jwk).toEqual(jwk);
    await expect(exportPublicJwk(keyPair.privateKey)).rejects.toThrow();
  });

  it('imports nothing, so it runs in browsers and React Native', () => {
    const source = readFileSync(new URL('../../src/client/dpop.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^\s*import\s/m);
    expect(source).not.toMatch(/\brequire\(|node:|\bBuffer\b|\bprocess\./);
  });
});

describe('client DPoP proofs against the server verifier', () => {
  it('makes a proof the server accepts, with the fields RFC 9449 asks for', async () => {
    const proof = await make({ url: `${URL_}?ttl=900#x` });
    expect(decodeProtectedHeader(proof)).toEqual({
      typ: 'dpop+jwt',
      alg: 'ES256',
      jwk: await exportPublicJwk(keyPair),
    });
    const payload = decodeJwt(proof);
    expect(payload).toEqual({
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      htm: 'POST',
      htu: URL_,
      iat: T0 / 1000,
      ath: accessTokenHash(TOKEN),
    });
    await expect(verify(proof)).resolves.toBeUndefined();
  });

  it('uses a given jti, and a fresh random one otherwise', async () => {
    const fixed = await createDpopProof({ keyPair, method: 'GET', url: URL_, jti: 'my-id' });
    expect(decodeJwt(fixed).jti).toBe('my-id');
    expect(decodeJwt(fixed).ath).toBeUndefined();
    const jtis = new Set(
      await Promise.all(Array.from({ length: 20 }, async () => decodeJwt(await make()).jti)),
    );
    expect(jtis.size).toBe(20);
  });

  it('hashes tokens of every length into ath the way the server does', async () => {
    for (let length = 0; length < 8; length++) {
      const token = 'é'.repeat(length) + 'x'.repeat(length);
      const proof = await make({ accessToken: token });
      expect(decodeJwt(proof).ath).toBe(accessTokenHash(token));
    }
  });

  it('asks for a proof when none is sent', async () => {
    expect(await codeOf(verify(undefined))).toBe('KEYVEND_PROOF_REQUIRED');
  });

  it('refuses a proof made with another device key', async () => {
    const other = await generateDeviceKey();
    const proof = await createDpopProof({
      keyPair: other,
      method: 'POST',
      url: URL_,
      accessToken: TOKEN,
      now: new Date(now),
    });
    expect(await codeOf(verify(proof))).toBe('KEYVEND_PROOF_KEY_MISMATCH');
  });

  it('refuses the same proof a second time', async () => {
    const proof = await make();
    await verify(proof);
    expect(await codeOf(verify(proof))).toBe('KEYVEND_PROOF_REPLAYED');
  });

  it('refuses a proof made for another URL or method', async () => {
    expect(await codeOf(verify(await make({ url: 'https://keyvend.example/v1/devices' })))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
    expect(await codeOf(verify(await make({ url: 'https://evil.example/v1/credentials' })))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
    expect(await codeOf(verify(await make({ method: 'GET' })))).toBe('KEYVEND_PROOF_INVALID');
  });

  it('refuses a stale proof, and one from too far in the future', async () => {
    expect(await codeOf(verify(await make({ now: new Date(T0 - 61_000) })))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
    expect(await codeOf(verify(await make({ now: new Date(T0 + 61_000) })))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
    const proof = await make();
    now = T0 + 61_000;
    expect(await codeOf(verify(proof))).toBe('KEYVEND_PROOF_INVALID');
  });

  it('refuses a proof bound to another token', async () => {
    expect(await codeOf(verify(await make({ accessToken: `${TOKEN}x` })))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
  });

  it('refuses an unsigned proof (alg none)', async () => {
    const [, payload] = (await make()).split('.');
    const header = b64url({ typ: 'dpop+jwt', alg: 'none', jwk: await exportPublicJwk(keyPair) });
    expect(await codeOf(verify(`${header}.${payload}.`))).toBe('KEYVEND_PROOF_INVALID');
    expect(await codeOf(verify(`${header}.${payload}`))).toBe('KEYVEND_PROOF_INVALID');
  });

  it('refuses a proof that carries its private key in the header', async () => {
    const exposed = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    const privateJwk = await crypto.subtle.exportKey('jwk', exposed.privateKey);
    const header = b64url({ typ: 'dpop+jwt', alg: 'ES256', jwk: privateJwk });
    const payload = b64url({
      jti: 'p',
      htm: 'POST',
      htu: URL_,
      iat: T0 / 1000,
      ath: accessTokenHash(TOKEN),
    });
    const signature = await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      exposed.privateKey,
      new TextEncoder().encode(`${header}.${payload}`),
    );
    const proof = `${header}.${payload}.${Buffer.from(signature).toString('base64url')}`;
    const { jkt: exposedJkt } = await parsePublicKey({
      kty: privateJwk.kty,
      crv: privateJwk.crv,
      x: privateJwk.x,
      y: privateJwk.y,
    });
    const code = await codeOf(
      verifyDpopProof(proof, {
        method: 'POST',
        url: URL_,
        expectedJkt: exposedJkt,
        accessToken: TOKEN,
        now: new Date(now),
        store,
      }),
    );
    expect(code).toBe('KEYVEND_PROOF_INVALID');
  });

  it('refuses a proof whose signature was tampered with', async () => {
    const proof = await make();
    const [h, p, s] = proof.split('.') as [string, string, string];
    const flipped = s.startsWith('A') ? `B${s.slice(1)}` : `A${s.slice(1)}`;
    expect(await codeOf(verify(`${h}.${p}.${flipped}`))).toBe('KEYVEND_PROOF_INVALID');
  });
});
