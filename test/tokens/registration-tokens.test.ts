/**
 * Registration tokens: what an issued token carries, every way verification refuses one
 * (with the right code and without echoing the token), and the verified-token cache.
 */
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ErrorCode, KeyvendError } from '../../src/errors.js';
import { newDeviceId } from '../../src/stores/ids.js';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.js';
import { KeyRing } from '../../src/tokens/key-ring.js';
import { RegistrationTokens } from '../../src/tokens/registration-tokens.js';

const T0 = Date.UTC(2030, 0, 1);
const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
const HOUR = 3600;

let now: number;
let store: SqliteStore;
let ring: KeyRing;
const clock = () => new Date(now);
const options = { issuer: 'keyvend', audience: 'keyvend', cacheSize: 100, clock };

beforeEach(async () => {
  now = T0;
  store = await SqliteStore.open(':memory:', { clock });
  ring = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
});
afterEach(async () => {
  await store.close();
});

async function refusal(tokens: RegistrationTokens, token: string): Promise<KeyvendError> {
  try {
    await tokens.verify(token);
  } catch (error) {
    expect(error).toBeInstanceOf(KeyvendError);
    const kv = error as KeyvendError;
    if (token.length > 8) {
      expect(kv.message).not.toContain(token);
      expect(JSON.stringify(kv.details ?? {})).not.toContain(token);
    }
    return kv;
  }
  throw new Error('expected the token to be refused');
}

async function expectCode(tokens: RegistrationTokens, token: string, code: ErrorCode) {
  expect((await refusal(tokens, token)).code).toBe(code);
}

/** Signs arbitrary claims with the ring's current key: tokens only a bug could produce. */
async function signRaw(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const { kid, alg, privateKey } = ring.current();
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: 'kv-reg+jwt', ...header })
    .sign(privateKey);
}

function validClaims(): Record<string, unknown> {
  const iat = Math.floor(now / 1000);
  return {
    sub: newDeviceId(),
    kv_profile: 'mobile',
    iss: 'keyvend',
    aud: 'keyvend',
    iat,
    exp: iat + HOUR,
    jti: 'j1',
  };
}

describe('RegistrationTokens', () => {
  it('issues a signed JWT carrying the device, profile, binding and lifetime', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const deviceId = newDeviceId();
    const token = await tokens.issue({ deviceId, profile: 'mobile', jkt: JKT, ttlSeconds: HOUR });
    expect(decodeProtectedHeader(token)).toEqual({
      alg: 'ES256',
      kid: ring.current().kid,
      typ: 'kv-reg+jwt',
    });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({
      sub: deviceId,
      kv_profile: 'mobile',
      cnf: { jkt: JKT },
      iss: 'keyvend',
      aud: 'keyvend',
      iat: T0 / 1000,
      exp: T0 / 1000 + HOUR,
    });
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);

    expect(await tokens.verify(token)).toEqual({
      deviceId,
      profile: 'mobile',
      jkt: JKT,
      issuedAt: new Date(T0),
      expiresAt: new Date(T0 + HOUR * 1000),
    });
  });

  it('leaves out the binding for a device without a key', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const token = await tokens.issue({ deviceId: newDeviceId(), profile: 'iot', ttlSeconds: 60 });
    expect(decodeJwt(token).cnf).toBeUndefined();
    const claims = await tokens.verify(token);
    expect(claims.jkt).toBeUndefined();
    expect('jkt' in claims).toBe(false);
  });

  it('gives each token its own jti', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const deviceId = newDeviceId();
    const a = await tokens.issue({ deviceId, profile: 'mobile', ttlSeconds: 60 });
    const b = await tokens.issue({ deviceId, profile: 'mobile', ttlSeconds: 60 });
    expect(decodeJwt(a).jti).not.toBe(decodeJwt(b).jti);
  });

  it('refuses to issue with a ttl that is not a positive whole number', async () => {
    const tokens = new RegistrationTokens(ring, options);
    for (const ttlSeconds of [0, -1, 1.5, Number.NaN]) {
      await expect(
        tokens.issue({ deviceId: newDeviceId(), profile: 'mobile', ttlSeconds }),
      ).rejects.toThrow(RangeError);
    }
  });

  it('refuses an expired token, also when it was verified before and is cached', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const token = await tokens.issue({
      deviceId: newDeviceId(),
      profile: 'mobile',
      ttlSeconds: 60,
    });
    await tokens.verify(token);
    now = T0 + 59_999;
    await expect(tokens.verify(token)).resolves.toMatchObject({ profile: 'mobile' });
    now = T0 + 60_000;
    await expectCode(tokens, token, 'KEYVEND_TOKEN_EXPIRED');
    const fresh = new RegistrationTokens(ring, options);
    await expectCode(fresh, token, 'KEYVEND_TOKEN_EXPIRED');
  });

  it('refuses a token issued for another audience', async () => {
    const other = new RegistrationTokens(ring, { ...options, audience: 'elsewhere' });
    const token = await other.issue({ deviceId: newDeviceId(), profile: 'mobile', ttlSeconds: 60 });
    await expectCode(new RegistrationTokens(ring, options), token, 'KEYVEND_TOKEN_WRONG_AUDIENCE');
  });

  it('refuses a token from another issuer', async () => {
    const other = new RegistrationTokens(ring, { ...options, issuer: 'not-keyvend' });
    const token = await other.issue({ deviceId: newDeviceId(), profile: 'mobile', ttlSeconds: 60 });
    await expectCode(new RegistrationTokens(ring, options), token, 'KEYVEND_TOKEN_INVALID');
  });

  it('refuses a token signed by a key outside the ring, even under a known kid', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(validClaims())
      .setProtectedHeader({ alg: 'ES256', kid: ring.current().kid, typ: 'kv-reg+jwt' })
      .sign(privateKey);
    await expectCode(tokens, forged, 'KEYVEND_TOKEN_INVALID');
    const unknownKid = await new SignJWT(validClaims())
      .setProtectedHeader({ alg: 'ES256', kid: 'no-such-kid', typ: 'kv-reg+jwt' })
      .sign(privateKey);
    await expectCode(tokens, unknownKid, 'KEYVEND_TOKEN_INVALID');
    const noKid = await new SignJWT(validClaims())
      .setProtectedHeader({ alg: 'ES256', typ: 'kv-reg+jwt' })
      .sign(privateKey);
    await expectCode(tokens, noKid, 'KEYVEND_TOKEN_INVALID');
  });

  it('refuses a token whose payload was altered after signing', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const token = await tokens.issue({
      deviceId: newDeviceId(),
      profile: 'mobile',
      ttlSeconds: 60,
    });
    const [h, , s] = token.split('.');
    const payload = { ...decodeJwt(token), kv_profile: 'admin' };
    const altered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    await expectCode(tokens, altered, 'KEYVEND_TOKEN_INVALID');
  });

  it('refuses alg none and an HMAC keyed with the public key', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const none = new UnsecuredJWT(validClaims()).encode();
    await expectCode(tokens, none, 'KEYVEND_TOKEN_INVALID');
    const publicJwk = ring.jwks().keys[0]!;
    const hs = await new SignJWT(validClaims())
      .setProtectedHeader({ alg: 'HS256', kid: ring.current().kid, typ: 'kv-reg+jwt' })
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    await expectCode(tokens, hs, 'KEYVEND_TOKEN_INVALID');
  });

  it('refuses a JWT of another type signed by the same key', async () => {
    const tokens = new RegistrationTokens(ring, options);
    await expectCode(
      tokens,
      await signRaw(validClaims(), { typ: 'kv-challenge+jwt' }),
      'KEYVEND_TOKEN_INVALID',
    );
    await expectCode(
      tokens,
      await signRaw(validClaims(), { typ: undefined }),
      'KEYVEND_TOKEN_INVALID',
    );
  });

  it('refuses a correctly signed token that lacks a required claim or has a bad one', async () => {
    const tokens = new RegistrationTokens(ring, options);
    for (const missing of ['sub', 'kv_profile', 'jti', 'exp', 'iat']) {
      const claims = validClaims();
      delete claims[missing];
      await expectCode(tokens, await signRaw(claims), 'KEYVEND_TOKEN_INVALID');
    }
    for (const bad of [{ kv_profile: 42 }, { cnf: 'x' }, { cnf: { jkt: 'short' } }, { sub: '' }]) {
      await expectCode(
        tokens,
        await signRaw({ ...validClaims(), ...bad }),
        'KEYVEND_TOKEN_INVALID',
      );
    }
    await expect(tokens.verify(await signRaw(validClaims()))).resolves.toBeDefined();
  });

  it('refuses garbage with KEYVEND_TOKEN_INVALID, never a crash', async () => {
    const tokens = new RegistrationTokens(ring, options);
    for (const junk of [
      '',
      'abc',
      'a.b.c',
      '..',
      'eyJhbGciOiJFUzI1NiJ9.e30.',
      `${'x'.repeat(9000)}`,
      'Bearer abc.def.ghi',
    ]) {
      await expectCode(tokens, junk, 'KEYVEND_TOKEN_INVALID');
    }
    await expectCode(tokens, 42 as unknown as string, 'KEYVEND_TOKEN_INVALID');
  });

  it('keeps verifying tokens signed before a rotation', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const before = await tokens.issue({
      deviceId: newDeviceId(),
      profile: 'mobile',
      ttlSeconds: 60,
    });
    const { kid } = await ring.rotate();
    const after = await tokens.issue({
      deviceId: newDeviceId(),
      profile: 'mobile',
      ttlSeconds: 60,
    });
    expect(decodeProtectedHeader(after).kid).toBe(kid);
    await expect(new RegistrationTokens(ring, options).verify(before)).resolves.toBeDefined();
    await expect(tokens.verify(after)).resolves.toBeDefined();
  });

  it('verifies tokens issued by another instance after it rotated the key', async () => {
    const ringB = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    now = T0 + 10_000;
    await ringB.rotate();
    const token = await new RegistrationTokens(ringB, options).issue({
      deviceId: newDeviceId(),
      profile: 'mobile',
      ttlSeconds: 60,
    });
    await expect(new RegistrationTokens(ring, options).verify(token)).resolves.toBeDefined();
  });

  it('skips signature work for a token it verified before', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const token = await tokens.issue({
      deviceId: newDeviceId(),
      profile: 'mobile',
      ttlSeconds: 60,
    });
    const lookups = vi.spyOn(ring, 'verificationKey');
    const first = await tokens.verify(token);
    expect(lookups).toHaveBeenCalledTimes(1);
    const second = await tokens.verify(token);
    expect(lookups).toHaveBeenCalledTimes(1);
    expect(second).toEqual(first);
    // callers get their own copy: changing it does not change the cache
    second.profile = 'changed';
    second.expiresAt.setTime(0);
    expect(await tokens.verify(token)).toEqual(first);
  });

  it('checks every token when the cache is off', async () => {
    const tokens = new RegistrationTokens(ring, { ...options, cacheSize: 0 });
    const token = await tokens.issue({
      deviceId: newDeviceId(),
      profile: 'mobile',
      ttlSeconds: 60,
    });
    const lookups = vi.spyOn(ring, 'verificationKey');
    await tokens.verify(token);
    await tokens.verify(token);
    expect(lookups).toHaveBeenCalledTimes(2);
  });

  it('forgets cached tokens once their signing key is deleted', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const token = await tokens.issue({
      deviceId: newDeviceId(),
      profile: 'mobile',
      ttlSeconds: HOUR,
    });
    await tokens.verify(token);
    now = T0 + 1000;
    await ring.rotate();
    await store.deleteRetiredSigningKeys('registration', new Date(T0 + 2000));
    await ring.reload();
    await expectCode(tokens, token, 'KEYVEND_TOKEN_INVALID');
  });

  it('turns a store failure while looking up a key into a 5xx, not a verdict on the token', async () => {
    const tokens = new RegistrationTokens(ring, options);
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT(validClaims())
      .setProtectedHeader({ alg: 'ES256', kid: 'rotated-elsewhere', typ: 'kv-reg+jwt' })
      .sign(privateKey);
    now = T0 + 60_000;
    await store.close();
    const error = await refusal(tokens, token);
    expect(error.statusCode).toBeGreaterThanOrEqual(500);
  });
});
