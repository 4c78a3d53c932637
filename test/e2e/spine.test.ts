/**
 * The spine end to end, through real HTTP and the real AWS SDK against the local AWS
 * endpoint: register → vend → GetCallerIdentity with the vended credentials.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_PROFILE,
  type Keyvend,
  postJson,
  registerDevice,
  startKeyvend,
} from '../support/harness.js';
import { REPO_ROOT } from '../support/paths.js';

const run = promisify(execFile);

function stsWith(kv: Keyvend, creds: Record<string, unknown>): STSClient {
  return new STSClient({
    region: 'us-east-1',
    endpoint: kv.localAws.url,
    credentials: {
      accessKeyId: String(creds.AccessKeyId),
      secretAccessKey: String(creds.SecretAccessKey),
      sessionToken: String(creds.SessionToken),
    },
  });
}

async function vend(kv: Keyvend, token: string, body: unknown = {}) {
  return postJson(`${kv.url}/v1/credentials`, body, { authorization: `Bearer ${token}` });
}

describe('register → vend → use', () => {
  let kv: Keyvend;
  let now = Date.now();
  beforeAll(async () => {
    kv = await startKeyvend({ clock: () => new Date(now) });
  });
  afterAll(() => kv.close());

  it('vends credentials that GetCallerIdentity answers with the device federated-user ARN', async () => {
    const { deviceId, token } = await registerDevice(kv);
    expect(deviceId).toMatch(/^d-[a-z2-7]{24}$/);
    const res = await vend(kv, token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(res.body.DeviceId).toBe(deviceId);
    const identity = await stsWith(kv, res.body).send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toBe(`arn:aws:sts::123456789012:federated-user/kv-${deviceId}`);
    expect(identity.UserId).toBe(`123456789012:kv-${deviceId}`);
    expect(res.body.PrincipalArn).toBe(identity.Arn);
  });

  it('gives a second device a different principal and its own rendered policy', async () => {
    const a = await registerDevice(kv);
    const b = await registerDevice(kv);
    const ca = await vend(kv, a.token);
    const cb = await vend(kv, b.token);
    const ia = await stsWith(kv, ca.body).send(new GetCallerIdentityCommand({}));
    const ib = await stsWith(kv, cb.body).send(new GetCallerIdentityCommand({}));
    expect(ia.Arn).not.toBe(ib.Arn);
    const sessions = kv.localAws.control.sessions();
    const sa = sessions.find((s) => s.accessKeyId === ca.body.AccessKeyId);
    expect(sa?.policy).toContain('test-bucket');
    expect(sa?.policy).not.toContain(b.deviceId);
  });

  it('clamps the requested TTL to the profile maximum', async () => {
    const { token } = await registerDevice(kv);
    const res = await vend(kv, token, { ttl: 100_000 });
    expect(res.status).toBe(200);
    const lifetime = Date.parse(String(res.body.Expiration)) - Date.now();
    expect(lifetime).toBeLessThanOrEqual(7200 * 1000 + 5000);
    expect(lifetime).toBeGreaterThan(7000 * 1000);
  });

  it('refuses a disabled device at once, even with credentials cached for it', async () => {
    const { deviceId, token } = await registerDevice(kv);
    expect((await vend(kv, token)).status).toBe(200);
    await kv.services.store.setDeviceStatus(deviceId, 'disabled', new Date());
    const res = await vend(kv, token);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: { code: 'KEYVEND_DEVICE_DISABLED' } });
  });

  it('mints fresh credentials for a device enabled again, not the ones held before it was disabled', async () => {
    const { deviceId, token } = await registerDevice(kv);
    const before = await vend(kv, token);
    await kv.services.store.setDeviceStatus(deviceId, 'disabled', new Date());
    expect((await vend(kv, token)).status).toBe(403);
    await kv.services.store.setDeviceStatus(deviceId, 'active', new Date());
    const after = await vend(kv, token);
    expect(after.status).toBe(200);
    expect(after.body.AccessKeyId).not.toBe(before.body.AccessKeyId);
  });

  it('refuses a device the CLI disabled from another process, on its very next request', async () => {
    const { deviceId, token } = await registerDevice(kv);
    expect((await vend(kv, token)).status).toBe(200);
    const dir = mkdtempSync(join(tmpdir(), 'keyvend-cli-'));
    const configFile = join(dir, 'keyvend.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        store: { type: 'sqlite', path: kv.config.store.path },
        aws: { region: 'us-east-1', local: { enabled: true, accountId: '123456789012' } },
        policiesDir: join(REPO_ROOT, 'policies'),
        profiles: { demo: DEMO_PROFILE },
      }),
    );
    const cli = (...args: string[]) =>
      run(process.execPath, [
        '--import',
        createRequire(import.meta.url).resolve('tsx'),
        join(REPO_ROOT, 'src/cli/index.ts'),
        ...args,
        '--config',
        configFile,
      ]);
    try {
      await cli('devices', 'disable', deviceId);
      const refused = await vend(kv, token);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: { code: 'KEYVEND_DEVICE_DISABLED' } });
      await cli('devices', 'enable', deviceId);
      expect((await vend(kv, token)).status).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an expired registration token', async () => {
    const { token } = await registerDevice(kv);
    expect((await vend(kv, token)).status).toBe(200);
    const saved = now;
    now += 366 * 24 * 3600 * 1000;
    try {
      const res = await vend(kv, token);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: { code: 'KEYVEND_TOKEN_EXPIRED' } });
    } finally {
      now = saved;
    }
  });

  it('refuses a forged registration token signed by another key', async () => {
    const { deviceId } = await registerDevice(kv);
    const { privateKey } = await generateKeyPair('ES256');
    const kid = kv.services.keyRing.current().kid;
    const forged = await new SignJWT({ kv_profile: 'demo' })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'kv-reg+jwt' })
      .setSubject(deviceId)
      .setIssuer(kv.config.tokens.issuer)
      .setAudience(kv.config.tokens.audience)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    const res = await vend(kv, forged);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'KEYVEND_TOKEN_INVALID' } });
  });

  it('refuses a token signed by keyvend for another audience', async () => {
    const { deviceId } = await registerDevice(kv);
    const key = kv.services.keyRing.current();
    const other = await new SignJWT({ kv_profile: 'demo' })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'kv-reg+jwt' })
      .setSubject(deviceId)
      .setJti('x')
      .setIssuer(kv.config.tokens.issuer)
      .setAudience('another-keyvend')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key.privateKey);
    const res = await vend(kv, other);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'KEYVEND_TOKEN_WRONG_AUDIENCE' } });
  });

  it('refuses a request with no token, and a malformed Authorization header', async () => {
    const none = await postJson(`${kv.url}/v1/credentials`, {});
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: { code: 'KEYVEND_TOKEN_MISSING' } });
    const basic = await vend(kv, 'a b');
    expect(basic.status).toBe(401);
    const garbage = await postJson(
      `${kv.url}/v1/credentials`,
      {},
      { authorization: 'Bearer x.y.z' },
    );
    expect(garbage.body).toMatchObject({ error: { code: 'KEYVEND_TOKEN_INVALID' } });
  });

  it('serves 100 simultaneous vend requests for one device with exactly one STS call', async () => {
    const { token } = await registerDevice(kv);
    const before = kv.localAws.control.stsCallCount('GetFederationToken');
    const answers = await Promise.all(Array.from({ length: 100 }, () => vend(kv, token)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body.AccessKeyId)).size).toBe(1);
    expect(kv.localAws.control.stsCallCount('GetFederationToken') - before).toBe(1);
  });

  it('publishes the public keys that verify registration tokens', async () => {
    const res = await fetch(`${kv.url}/.well-known/jwks.json`);
    const jwks = (await res.json()) as { keys: { kid: string; d?: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(kv.services.keyRing.current().kid);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it('answers health and readiness', async () => {
    expect((await fetch(`${kv.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${kv.url}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('serves the OpenAPI document and its UI at /docs', async () => {
    const doc = await fetch(`${kv.url}/docs/json`);
    const openapi = (await doc.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/v1/devices', '/v1/credentials', '/healthz', '/readyz']),
    );
    expect((await fetch(`${kv.url}/docs`)).status).toBeLessThan(400);
  });
});
