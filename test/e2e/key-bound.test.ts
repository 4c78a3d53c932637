/**
 * Key-bound devices end to end: a device registers a public key, its registration token is
 * bound to the key's thumbprint, and every vend needs a fresh DPoP proof signed by that key,
 * for this method and URL, used once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopProof, exportPublicJwk, generateDeviceKey } from '../../src/client/dpop.js';
import { DEMO_PROFILE, type Keyvend, postJson, startKeyvend } from '../support/harness.js';

describe('key-bound devices', () => {
  let kv: Keyvend;
  let keyPair: CryptoKeyPair;
  let token: string;
  let url: string;
  beforeAll(async () => {
    kv = await startKeyvend({
      config: {
        profiles: { demo: DEMO_PROFILE, bound: { ...DEMO_PROFILE, requireKeyBinding: true } },
      },
    });
    url = `${kv.url}/v1/credentials`;
    keyPair = await generateDeviceKey();
    const res = await postJson(`${kv.url}/v1/devices`, {
      profile: 'bound',
      publicKey: await exportPublicJwk(keyPair.publicKey),
    });
    expect(res.status).toBe(201);
    expect(res.body.keyBound).toBe(true);
    token = String(res.body.token);
  });
  afterAll(() => kv.close());

  const vend = (headers: Record<string, string>) =>
    postJson(url, {}, { authorization: `DPoP ${token}`, ...headers });

  it('vends with a fresh proof from the bound key', async () => {
    const dpop = await createDpopProof({ keyPair, method: 'POST', url, accessToken: token });
    const res = await vend({ dpop });
    expect(res.status).toBe(200);
    expect(res.body.AccessKeyId).toMatch(/^ASIA/);
  });

  it('refuses the token without a proof', async () => {
    const res = await vend({});
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'KEYVEND_PROOF_REQUIRED' } });
  });

  it('refuses a proof signed by another key', async () => {
    const other = await generateDeviceKey();
    const dpop = await createDpopProof({ keyPair: other, method: 'POST', url, accessToken: token });
    const res = await vend({ dpop });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'KEYVEND_PROOF_KEY_MISMATCH' } });
  });

  it('refuses a replayed proof', async () => {
    const dpop = await createDpopProof({ keyPair, method: 'POST', url, accessToken: token });
    expect((await vend({ dpop })).status).toBe(200);
    const again = await vend({ dpop });
    expect(again.status).toBe(401);
    expect(again.body).toMatchObject({ error: { code: 'KEYVEND_PROOF_REPLAYED' } });
  });

  it('refuses a proof made for another URL', async () => {
    const dpop = await createDpopProof({
      keyPair,
      method: 'POST',
      url: `${kv.url}/v1/devices`,
      accessToken: token,
    });
    const res = await vend({ dpop });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'KEYVEND_PROOF_INVALID' } });
  });

  it('refuses registration without a public key on a profile that requires binding', async () => {
    const res = await postJson(`${kv.url}/v1/devices`, { profile: 'bound' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'KEYVEND_PUBLIC_KEY_REQUIRED' } });
  });

  it('refuses a private key or an unsupported key type as the public key', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const ec = await generateKeyPair('ES256', { extractable: true });
    for (const publicKey of [
      await exportJWK(rsa.publicKey),
      await exportJWK(ec.privateKey),
      { kty: 'EC' },
    ]) {
      const res = await postJson(`${kv.url}/v1/devices`, { profile: 'bound', publicKey });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'KEYVEND_PUBLIC_KEY_INVALID' } });
    }
  });
});
