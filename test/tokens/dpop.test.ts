/**
 * The server side of DPoP: which public keys a device may register, and proofs crafted with
 * jose (including ones no honest client makes) against `verifyDpopProof`. Proofs made by
 * the browser client are covered in `test/client/dpop.test.ts`.
 */
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ErrorCode, KeyvendError } from '../../src/errors.js';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.js';
import {
  accessTokenHash,
  parsePublicKey,
  thumbprintOf,
  verifyDpopProof,
} from '../../src/tokens/dpop.js';

const T0 = Date.UTC(2030, 0, 1);
const URL_ = 'https://keyvend.example/v1/credentials';
const TOKEN = 'eyJ.registration.token';

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(KeyvendError);
    return (error as KeyvendError).code;
  }
  throw new Error('expected a KeyvendError');
}

describe('thumbprintOf', () => {
  it('computes the RFC 7638 example thumbprint', async () => {
    // RFC 7638 §3.1
    const jwk: JWK = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
    };
    expect(await thumbprintOf(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });
});

describe('parsePublicKey', () => {
  it('accepts a P-256 public key, keeping only its defining members', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const exported = await exportJWK(publicKey);
    const { jwk, jkt } = await parsePublicKey({ ...exported, alg: 'ES256', use: 'sig', kid: 'x' });
    expect(jwk).toEqual({ kty: 'EC', crv: 'P-256', x: exported.x, y: exported.y });
    expect(jkt).toBe(await calculateJwkThumbprint(exported));
  });

  it('accepts an Ed25519 public key', async () => {
    const { publicKey } = await generateKeyPair('EdDSA');
    const exported = await exportJWK(publicKey);
    const { jwk, jkt } = await parsePublicKey(exported);
    expect(jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: exported.x });
    expect(jkt).toBe(await calculateJwkThumbprint(exported));
  });

  it('refuses private keys, other curves and types, and malformed keys', async () => {
    const ec = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    const ed = await exportJWK((await generateKeyPair('EdDSA', { extractable: true })).privateKey);
    const p384 = await exportJWK((await generateKeyPair('ES384')).publicKey);
    const rsa = await exportJWK((await generateKeyPair('RS256')).publicKey);
    const ecPublic = { kty: 'EC', crv: 'P-256', x: ec.x, y: ec.y };
    const cases: unknown[] = [
      ec, // has d
      ed, // has d
      { ...ecPublic, d: undefined }, // a d member at all
      p384,
      rsa,
      { kty: 'OKP', crv: 'X25519', x: ed.x },
      { kty: 'oct', k: 'c2VjcmV0' },
      { kty: 'EC', crv: 'P-256', x: ec.x },
      { ...ecPublic, x: `${ec.x}A` },
      { ...ecPublic, y: 'A'.repeat(43) }, // not on the curve
      { ...ecPublic, alg: 'EdDSA' },
      { ...ecPublic, x: 42 },
      null,
      'a string',
      ['EC'],
      42,
      undefined,
    ];
    for (const input of cases) {
      expect(await codeOf(parsePublicKey(input))).toBe('KEYVEND_PUBLIC_KEY_INVALID');
    }
  });
});

describe('verifyDpopProof (proofs made with jose)', () => {
  let now: number;
  let store: SqliteStore;

  beforeEach(async () => {
    now = T0;
    store = await SqliteStore.open(':memory:', { clock: () => new Date(now) });
  });
  afterEach(async () => {
    await store.close();
  });

  async function deviceKey(alg: 'ES256' | 'EdDSA' = 'EdDSA') {
    const pair = await generateKeyPair(alg, { extractable: true });
    const publicJwk = await exportJWK(pair.publicKey);
    return { ...pair, alg, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
  }

  type Key = Awaited<ReturnType<typeof deviceKey>>;

  function proof(
    key: Key,
    payload: JWTPayload = {},
    header: Record<string, unknown> = {},
  ): Promise<string> {
    return new SignJWT({
      htm: 'POST',
      htu: URL_,
      iat: Math.floor(now / 1000),
      jti: crypto.randomUUID(),
      ath: accessTokenHash(TOKEN),
      ...payload,
    })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...header })
      .sign(key.privateKey);
  }

  const check = (p: string | undefined, expectedJkt: string, extra: { url?: string } = {}) =>
    verifyDpopProof(p, {
      method: 'POST',
      url: extra.url ?? URL_,
      expectedJkt,
      accessToken: TOKEN,
      now: new Date(now),
      store,
    });

  it('accepts a fresh EdDSA proof for this request and key', async () => {
    const key = await deviceKey('EdDSA');
    await expect(check(await proof(key), key.jkt)).resolves.toBeUndefined();
  });

  it('asks for a proof when there is none', async () => {
    expect(await codeOf(check(undefined, 'x'))).toBe('KEYVEND_PROOF_REQUIRED');
    expect(await codeOf(check('', 'x'))).toBe('KEYVEND_PROOF_REQUIRED');
  });

  it('refuses garbage and oversized proofs as invalid', async () => {
    for (const junk of ['abc', 'a.b.c', '..', 'eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.', 'x'.repeat(5000)]) {
      expect(await codeOf(check(junk, 'x'))).toBe('KEYVEND_PROOF_INVALID');
    }
  });

  it('refuses a proof whose header embeds the private key', async () => {
    const key = await deviceKey('ES256');
    const privateJwk = await exportJWK(key.privateKey);
    const p = await proof(key, {}, { jwk: privateJwk });
    expect(await codeOf(check(p, key.jkt))).toBe('KEYVEND_PROOF_INVALID');
  });

  it('refuses a proof without a jwk, of another typ, or with a disallowed alg', async () => {
    const key = await deviceKey('ES256');
    expect(await codeOf(check(await proof(key, {}, { jwk: undefined }), key.jkt))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
    expect(await codeOf(check(await proof(key, {}, { typ: 'JWT' }), key.jkt))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
    const rsa = await generateKeyPair('RS256');
    const rsaProof = await new SignJWT({ htm: 'POST', htu: URL_, iat: now / 1000, jti: 'r' })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'RS256', jwk: await exportJWK(rsa.publicKey) })
      .sign(rsa.privateKey);
    expect(await codeOf(check(rsaProof, key.jkt))).toBe('KEYVEND_PROOF_INVALID');
  });

  it('refuses a header alg that does not match the embedded key', async () => {
    const ed = await deviceKey('EdDSA');
    const es = await deviceKey('ES256');
    // ES256-signed, but claims the EdDSA key: the alg/key pairing check stops it
    const p = await new SignJWT({ htm: 'POST', htu: URL_, iat: now / 1000, jti: 'm' })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: ed.publicJwk })
      .sign(es.privateKey);
    expect(await codeOf(check(p, ed.jkt))).toBe('KEYVEND_PROOF_INVALID');
  });

  it('refuses a proof whose signature does not match its embedded key', async () => {
    const key = await deviceKey('EdDSA');
    const other = await deviceKey('EdDSA');
    const p = await proof(other, {}, { jwk: key.publicJwk });
    expect(await codeOf(check(p, key.jkt))).toBe('KEYVEND_PROOF_INVALID');
  });

  it('compares htu without query or fragment, with scheme, host and default port normalised', async () => {
    const key = await deviceKey();
    await expect(
      check(await proof(key, { htu: 'HTTPS://KeyVend.Example:443/v1/credentials' }), key.jkt),
    ).resolves.toBeUndefined();
    await expect(
      check(await proof(key), key.jkt, { url: `${URL_}?ttl=900#frag` }),
    ).resolves.toBeUndefined();
    for (const htu of [
      'https://keyvend.example/v1/credentials/',
      'https://keyvend.example:8443/v1/credentials',
      'http://keyvend.example/v1/credentials',
      'https://evil.example/v1/credentials',
      'not a url',
      'ftp://keyvend.example/v1/credentials',
    ]) {
      expect(await codeOf(check(await proof(key, { htu }), key.jkt))).toBe('KEYVEND_PROOF_INVALID');
    }
    expect(await codeOf(check(await proof(key, { htu: 42 }), key.jkt))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
  });

  it('refuses a proof without jti, iat or ath, or with a wrong htm', async () => {
    const key = await deviceKey();
    for (const payload of [
      { jti: undefined },
      { jti: '' },
      { iat: undefined },
      { ath: undefined },
      { htm: 'post' },
    ]) {
      expect(await codeOf(check(await proof(key, payload), key.jkt))).toBe('KEYVEND_PROOF_INVALID');
    }
  });

  it('accepts iat up to maxAge either side of now, and no further', async () => {
    const key = await deviceKey();
    const iat = Math.floor(now / 1000);
    await expect(check(await proof(key, { iat: iat - 60 }), key.jkt)).resolves.toBeUndefined();
    await expect(check(await proof(key, { iat: iat + 60 }), key.jkt)).resolves.toBeUndefined();
    expect(await codeOf(check(await proof(key, { iat: iat - 61 }), key.jkt))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
    expect(await codeOf(check(await proof(key, { iat: iat + 61 }), key.jkt))).toBe(
      'KEYVEND_PROOF_INVALID',
    );
  });

  it('records a jti only for a proof that passed every other check', async () => {
    const key = await deviceKey();
    const bad = await proof(key, { jti: 'same', ath: accessTokenHash('another token') });
    expect(await codeOf(check(bad, key.jkt))).toBe('KEYVEND_PROOF_INVALID');
    const good = await proof(key, { jti: 'same' });
    await expect(check(good, key.jkt)).resolves.toBeUndefined();
    expect(await codeOf(check(good, key.jkt))).toBe('KEYVEND_PROOF_REPLAYED');
  });

  it('keeps the same jti of two different keys apart', async () => {
    const a = await deviceKey();
    const b = await deviceKey();
    await expect(check(await proof(a, { jti: 'shared' }), a.jkt)).resolves.toBeUndefined();
    await expect(check(await proof(b, { jti: 'shared' }), b.jkt)).resolves.toBeUndefined();
  });

  it('refuses a replay for as long as the proof itself would be accepted', async () => {
    const key = await deviceKey();
    const p = await proof(key);
    await check(p, key.jkt);
    now = T0 + 60_000;
    expect(await codeOf(check(p, key.jkt))).toBe('KEYVEND_PROOF_REPLAYED');
    now = T0 + 61_000;
    expect(await codeOf(check(p, key.jkt))).toBe('KEYVEND_PROOF_INVALID');
  });

  it('does not ask for ath when no token accompanies the proof', async () => {
    const key = await deviceKey();
    const p = await proof(key, { ath: undefined });
    await expect(
      verifyDpopProof(p, {
        method: 'POST',
        url: URL_,
        expectedJkt: key.jkt,
        now: new Date(now),
        store,
      }),
    ).resolves.toBeUndefined();
  });
});
