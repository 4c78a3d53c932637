/**
 * Rotating the registration-token signing key does not invalidate tokens signed by the
 * previous key: both keys are published and both verify.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Keyvend, postJson, registerDevice, startKeyvend } from '../support/harness.js';

describe('signing-key rotation', () => {
  let kv: Keyvend;
  beforeAll(async () => {
    kv = await startKeyvend();
  });
  afterAll(() => kv.close());

  it('keeps tokens of the previous key valid and publishes both keys', async () => {
    const before = await registerDevice(kv);
    const oldKid = kv.services.keyRing.current().kid;
    const { kid: newKid } = await kv.services.keyRing.rotate();
    expect(newKid).not.toBe(oldKid);

    const after = await registerDevice(kv);
    const header = JSON.parse(Buffer.from(after.token.split('.')[0]!, 'base64url').toString());
    expect(header.kid).toBe(newKid);

    for (const { token } of [before, after]) {
      const res = await postJson(
        `${kv.url}/v1/credentials`,
        {},
        { authorization: `Bearer ${token}` },
      );
      expect(res.status).toBe(200);
    }
    const jwks = (await (await fetch(`${kv.url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
  });
});
