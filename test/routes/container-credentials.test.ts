/**
 * `GET /v1/container-credentials` through the AWS SDK's own HTTP credential provider
 * (`fromHttp`, what `AWS_CONTAINER_CREDENTIALS_FULL_URI` drives), against a real keyvend and
 * the local AWS endpoint, plus the exact wire shapes of its answers and errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopProof, exportPublicJwk, generateDeviceKey } from '../../src/client/dpop.js';
import { containerCredentialsRoutes } from '../../src/routes/container-credentials.js';
import {
  DEMO_PROFILE,
  type Keyvend,
  postJson,
  registerDevice,
  startKeyvend,
} from '../support/harness.js';

const ROUTE = '/v1/container-credentials';

describe('GET /v1/container-credentials', () => {
  let kv: Keyvend;
  let own: FastifyInstance | undefined;
  let endpoint: string;
  let dir: string;
  beforeAll(async () => {
    kv = await startKeyvend({
      config: {
        profiles: { demo: DEMO_PROFILE, bound: { ...DEMO_PROFILE, requireKeyBinding: true } },
      },
    });
    if (kv.app.hasRoute({ method: 'GET', url: ROUTE })) {
      endpoint = `${kv.url}${ROUTE}`;
    } else {
      // Not wired into app.ts yet: serve the plugin over the same real services.
      own = Fastify();
      await own.register(rateLimit, { global: false });
      await own.register(containerCredentialsRoutes, { vend: kv.services.vend });
      await own.listen({ host: '127.0.0.1', port: 0 });
      const address = own.server.address();
      if (address === null || typeof address !== 'object') throw new Error('no address');
      endpoint = `http://127.0.0.1:${address.port}${ROUTE}`;
    }
    dir = mkdtempSync(join(tmpdir(), 'keyvend-container-'));
  });
  afterAll(async () => {
    await own?.close();
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (headers: Record<string, string>, query = '') => {
    const res = await fetch(endpoint + query, { headers });
    return {
      status: res.status,
      headers: res.headers,
      body: (await res.json()) as Record<string, unknown>,
    };
  };

  it('gives the SDK’s fromHttp provider credentials that work against AWS', async () => {
    const { deviceId, token } = await registerDevice(kv);
    const credentials = fromHttp({
      awsContainerCredentialsFullUri: endpoint,
      awsContainerAuthorizationToken: token,
      timeout: 5000,
    });
    const creds = await credentials();
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(creds.expiration?.getTime()).toBeGreaterThan(Date.now() + 15 * 60_000);
    const sts = new STSClient({ region: 'us-east-1', endpoint: kv.localAws.url, credentials });
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toMatch(/^arn:aws:sts::123456789012:federated-user\//);
    expect(identity.Arn).toContain(deviceId);
  });

  it('reads the token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as the SDK does', async () => {
    const { token } = await registerDevice(kv);
    const file = join(dir, 'token');
    writeFileSync(file, token, { mode: 0o600 });
    const creds = await fromHttp({
      awsContainerCredentialsFullUri: endpoint,
      awsContainerAuthorizationTokenFile: file,
      timeout: 5000,
    })();
    expect(creds.sessionToken).toBeTruthy();
  });

  it('answers exactly the container-credentials shape, never cacheable', async () => {
    const { token } = await registerDevice(kv);
    const res = await get({ authorization: token });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(res.body).sort()).toEqual([
      'AccessKeyId',
      'AccountId',
      'Expiration',
      'SecretAccessKey',
      'Token',
    ]);
    expect(res.body.AccountId).toBe('123456789012');
    expect(new Date(String(res.body.Expiration)).toISOString()).toBe(res.body.Expiration);
  });

  it('accepts the token as "Bearer <token>" too', async () => {
    const { token } = await registerDevice(kv);
    expect((await get({ authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it('honours ?ttl= and refuses one that is not a number', async () => {
    const { token } = await registerDevice(kv);
    const short = await get({ authorization: token }, '?ttl=900');
    const lifetime = Date.parse(String(short.body.Expiration)) - Date.now();
    expect(lifetime).toBeLessThanOrEqual(900_000 + 5000);
    const bad = await get({ authorization: token }, '?ttl=lots');
    expect(bad).toMatchObject({ status: 400, body: { Code: 'KEYVEND_TTL_INVALID' } });
  });

  it('reports a refused token in the { Code, Message } shape the SDK surfaces', async () => {
    const res = await get({ authorization: 'not-a-token' });
    expect(res.status).toBe(401);
    expect(Object.keys(res.body).sort()).toEqual(['Code', 'Message']);
    expect(res.body.Code).toBe('KEYVEND_TOKEN_INVALID');

    const err = (await fromHttp({
      awsContainerCredentialsFullUri: endpoint,
      awsContainerAuthorizationToken: 'not-a-token',
      maxRetries: 0,
      timeout: 5000,
    })().catch((e: unknown) => e)) as { Code?: string; Message?: string; message: string };
    expect(err.message).toContain('401');
    expect(err.Code).toBe('KEYVEND_TOKEN_INVALID');
    expect(err.Message).toBeTruthy();
  });

  it('asks for a token when none is sent', async () => {
    expect(await get({})).toMatchObject({ status: 401, body: { Code: 'KEYVEND_TOKEN_MISSING' } });
  });

  it('refuses a disabled device', async () => {
    const { deviceId, token } = await registerDevice(kv);
    await kv.services.store.setDeviceStatus(deviceId, 'disabled', new Date());
    const res = await get({ authorization: token });
    expect(res).toMatchObject({ status: 403, body: { Code: 'KEYVEND_DEVICE_DISABLED' } });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('tells a key-bound device plainly that this endpoint cannot serve it', async () => {
    const keyPair = await generateDeviceKey();
    const reg = await postJson(`${kv.url}/v1/devices`, {
      profile: 'bound',
      publicKey: await exportPublicJwk(keyPair.publicKey),
    });
    const token = String(reg.body.token);
    const res = await get({ authorization: token });
    expect(res.status).toBe(401);
    expect(res.body.Code).toBe('KEYVEND_PROOF_REQUIRED');
    expect(String(res.body.Message)).toContain('keyvend/client');
    // …while the same device still vends through POST /v1/credentials with its proof.
    const url = `${kv.url}/v1/credentials`;
    const dpop = await createDpopProof({ keyPair, method: 'POST', url, accessToken: token });
    expect((await postJson(url, {}, { authorization: `DPoP ${token}`, dpop })).status).toBe(200);
  });

  it('never lets a secret reach the log', async () => {
    const { token } = await registerDevice(kv);
    const res = await get({ authorization: token });
    expect(kv.logs()).not.toContain(token);
    expect(kv.logs()).not.toContain(String(res.body.SecretAccessKey));
  });
});
