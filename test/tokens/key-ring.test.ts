/**
 * KeyRing over a real (in-memory) SqliteStore: first-key generation, rotation, JWKS,
 * finding keys another instance rotated in, and forgetting deleted keys.
 */
import {
  calculateJwkThumbprint,
  compactVerify,
  exportJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.js';
import type { Store } from '../../src/stores/store.js';
import { KeyRing } from '../../src/tokens/key-ring.js';

const T0 = Date.UTC(2030, 0, 1);

/** The store, counting how often the ring reads its keys. */
function counting(store: Store): Store & { loads: number } {
  const wrapped = Object.create(store) as Store & { loads: number };
  wrapped.loads = 0;
  wrapped.listSigningKeys = (use) => {
    wrapped.loads++;
    return store.listSigningKeys(use);
  };
  wrapped.rotateSigningKey = (key, at) => store.rotateSigningKey(key, at);
  return wrapped;
}

async function signWith(ring: KeyRing): Promise<string> {
  const { kid, alg, privateKey } = ring.current();
  return new SignJWT({}).setProtectedHeader({ alg, kid }).sign(privateKey);
}

async function verifiesWith(ring: KeyRing, token: string): Promise<boolean> {
  try {
    await jwtVerify(token, async (header) => {
      const key = await ring.verificationKey(header.kid ?? '');
      if (!key) throw new Error('unknown kid');
      return key;
    });
    return true;
  } catch {
    return false;
  }
}

let now: number;
let store: SqliteStore;
const clock = () => new Date(now);

beforeEach(async () => {
  now = T0;
  store = await SqliteStore.open(':memory:', { clock });
});
afterEach(async () => {
  await store.close();
});

describe('KeyRing', () => {
  it('generates and stores a first key named by its RFC 7638 thumbprint', async () => {
    const ring = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    const stored = await store.listSigningKeys('registration');
    expect(stored).toHaveLength(1);
    const [record] = stored;
    expect(record?.kid).toBe(ring.current().kid);
    expect(record?.kid).toBe(await calculateJwkThumbprint(record!.publicJwk));
    expect(record?.privateJwk.d).toBeTypeOf('string');
    expect(record?.createdAt).toEqual(new Date(T0));
    expect(ring.current().alg).toBe('ES256');
    expect(ring.current().privateKey.extractable).toBe(false);
    expect(await store.listSigningKeys('oidc')).toEqual([]);
  });

  it('reuses the stored current key instead of generating another', async () => {
    const first = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    const second = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    expect(second.current().kid).toBe(first.current().kid);
    expect(await store.listSigningKeys('registration')).toHaveLength(1);
    expect(await verifiesWith(first, await signWith(second))).toBe(true);
  });

  it('publishes only public keys, with kid, alg and use sig', async () => {
    const ring = await KeyRing.open(store, { use: 'oidc', alg: 'ES256', clock });
    const { keys } = ring.jwks();
    expect(keys).toHaveLength(1);
    const [jwk] = keys as [JWK];
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(jwk).toMatchObject({ kid: ring.current().kid, alg: 'ES256', use: 'sig', kty: 'EC' });
    // the published copy cannot be used to alter the ring
    jwk.kid = 'tampered';
    expect(ring.jwks().keys[0]?.kid).toBe(ring.current().kid);
  });

  it('rotates to a new signer while the old key keeps verifying and stays published', async () => {
    const ring = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    const oldKid = ring.current().kid;
    const oldToken = await signWith(ring);
    now = T0 + 1000;
    const { kid } = await ring.rotate();
    expect(kid).not.toBe(oldKid);
    expect(ring.current().kid).toBe(kid);
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([kid, oldKid]);
    expect(await verifiesWith(ring, oldToken)).toBe(true);
    expect(await verifiesWith(ring, await signWith(ring))).toBe(true);
    const stored = await store.listSigningKeys('registration');
    expect(stored.map((k) => [k.kid, k.retiredAt])).toEqual([
      [kid, null],
      [oldKid, new Date(T0 + 1000)],
    ]);
  });

  it('finds a key another instance rotated in, reloading on the unknown kid', async () => {
    const a = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    const b = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    now = T0 + 10_000;
    await b.rotate();
    const token = await signWith(b);
    expect(await verifiesWith(a, token)).toBe(true);
    expect(a.current().kid).toBe(b.current().kid);
  });

  it('reloads for unknown kids at most once per interval, sharing one load', async () => {
    const wrapped = counting(store);
    const ring = await KeyRing.open(wrapped, {
      use: 'registration',
      alg: 'ES256',
      clock,
      reloadIntervalMs: 5000,
    });
    const afterOpen = wrapped.loads;
    for (let i = 0; i < 20; i++) expect(await ring.verificationKey(`made-up-${i}`)).toBeUndefined();
    expect(wrapped.loads).toBe(afterOpen);

    now = T0 + 5000;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => ring.verificationKey(`other-${i}`)),
    );
    expect(results.every((r) => r === undefined)).toBe(true);
    expect(wrapped.loads).toBe(afterOpen + 1);
    expect(await ring.verificationKey(ring.current().kid)).toBeDefined();
    expect(wrapped.loads).toBe(afterOpen + 1);
  });

  it('stops verifying with a key once it is deleted from the store, and says so by epoch', async () => {
    const ring = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    const oldToken = await signWith(ring);
    now = T0 + 1000;
    await ring.rotate();
    expect(ring.epoch).toBe(0);
    await store.deleteRetiredSigningKeys('registration', new Date(T0 + 2000));
    await ring.reload();
    expect(ring.epoch).toBe(1);
    expect(ring.jwks().keys).toHaveLength(1);
    expect(await verifiesWith(ring, oldToken)).toBe(false);
    expect(await verifiesWith(ring, await signWith(ring))).toBe(true);
  });

  it('moves to the configured algorithm when the current key is of another', async () => {
    const es = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    const esToken = await signWith(es);
    const ed = await KeyRing.open(store, { use: 'registration', alg: 'EdDSA', clock });
    expect(ed.current().alg).toBe('EdDSA');
    expect(ed.algorithms().sort()).toEqual(['ES256', 'EdDSA']);
    expect(await verifiesWith(ed, esToken)).toBe(true);
    const { payload } = await compactVerify(
      await signWith(ed),
      (await ed.verificationKey(ed.current().kid))!,
    );
    expect(payload).toBeInstanceOf(Uint8Array);
  });

  it('signs and verifies with RS256 keys', async () => {
    const ring = await KeyRing.open(store, { use: 'oidc', alg: 'RS256', clock });
    expect(ring.jwks().keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(ring.jwks().keys[0]?.d).toBeUndefined();
    expect(await verifiesWith(ring, await signWith(ring))).toBe(true);
  });

  it('does not take a key of another use for verification', async () => {
    const reg = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    const oidc = await KeyRing.open(store, { use: 'oidc', alg: 'ES256', clock });
    now = T0 + 60_000;
    expect(await oidc.verificationKey(reg.current().kid)).toBeUndefined();
    expect(await verifiesWith(oidc, await signWith(reg))).toBe(false);
  });

  it('keeps the keys it holds when a reload fails', async () => {
    const ring = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    const kid = ring.current().kid;
    const publicJwk = await exportJWK((await ring.verificationKey(kid))!);
    await store.close();
    await expect(ring.reload()).rejects.toThrow();
    expect(ring.current().kid).toBe(kid);
    expect(await exportJWK((await ring.verificationKey(kid))!)).toEqual(publicJwk);
    expect(await verifiesWith(ring, await signWith(ring))).toBe(true);
  });

  it('picks up a rotation made elsewhere through periodic reloads', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const a = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
      const b = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
      const { kid } = await b.rotate();
      const stop = a.startPeriodicReload(60_000);
      expect(a.current().kid).not.toBe(kid);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(a.current().kid).toBe(kid);
      stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
