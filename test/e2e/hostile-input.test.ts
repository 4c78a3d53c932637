/**
 * Bad input gets a clear 4xx JSON error and never a 500: malformed JSON, wrong types, missing
 * fields, oversized bodies, unknown profiles, wrong media types — on every endpoint. And no
 * secret (registration token, AWS credentials) ever reaches the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Keyvend, postJson, registerDevice, startKeyvend } from '../support/harness.js';

async function send(kv: Keyvend, path: string, init: RequestInit) {
  const res = await fetch(`${kv.url}${path}`, init);
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = { unparsable: text };
  }
  return { status: res.status, body };
}

function expectCoded(
  res: { status: number; body: Record<string, unknown> },
  status: number,
  code: string,
) {
  expect(res.status).toBe(status);
  expect(res.body).toMatchObject({ error: { code, message: expect.any(String) } });
}

describe('hostile input', () => {
  let kv: Keyvend;
  let token: string;
  beforeAll(async () => {
    kv = await startKeyvend({
      config: { server: { host: '127.0.0.1', port: 0, bodyLimit: 4096, logLevel: 'debug' } },
    });
    token = (await registerDevice(kv)).token;
  });
  afterAll(() => kv.close());

  const json = { 'content-type': 'application/json' };

  it.each([
    ['/v1/devices', '{"profile":'],
    ['/v1/devices', 'not json'],
    ['/v1/credentials', '{"ttl": 3600,,}'],
  ])('answers malformed JSON on %s with 400 KEYVEND_BAD_REQUEST', async (path, body) => {
    const res = await send(kv, path, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${token}` },
      body,
    });
    expectCoded(res, 400, 'KEYVEND_BAD_REQUEST');
  });

  it.each([
    [{ profile: 42 }],
    [{ profile: ['demo'] }],
    [{ profile: 'demo', answers: 'yes' }],
    [{ profile: 'demo', publicKey: 'not-a-jwk' }],
    [{ profile: 'demo', extra: true }],
    [[]],
    ['"demo"'],
    [null],
  ])('answers a registration body of the wrong shape (%j) with 400', async (body) => {
    const res = await postJson(`${kv.url}/v1/devices`, JSON.stringify(body));
    expectCoded(res, 400, 'KEYVEND_BAD_REQUEST');
  });

  it('names the missing field', async () => {
    const res = await postJson(`${kv.url}/v1/devices`, {});
    expectCoded(res, 400, 'KEYVEND_BAD_REQUEST');
    expect(String((res.body.error as { message: string }).message)).toContain('profile');
  });

  it('answers an empty registration body with 400', async () => {
    const res = await send(kv, '/v1/devices', { method: 'POST', headers: json, body: '' });
    expectCoded(res, 400, 'KEYVEND_BAD_REQUEST');
  });

  it.each([['nope'], ['__proto__'], ['constructor'], ['x'.repeat(64)]])(
    'answers an unknown profile (%s) with 400 KEYVEND_UNKNOWN_PROFILE',
    async (profile) => {
      const res = await postJson(`${kv.url}/v1/devices`, { profile });
      expectCoded(res, 400, 'KEYVEND_UNKNOWN_PROFILE');
    },
  );

  it('refuses prototype-poisoning payloads', async () => {
    const res = await postJson(`${kv.url}/v1/devices`, '{"profile":"demo","__proto__":{"x":1}}');
    expectCoded(res, 400, 'KEYVEND_BAD_REQUEST');
  });

  it.each([['/v1/devices'], ['/v1/credentials']])(
    'answers an oversized body on %s with 413',
    async (path) => {
      const res = await send(kv, path, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${token}` },
        body: JSON.stringify({ profile: 'demo', answers: { none: 'x'.repeat(10_000) } }),
      });
      expectCoded(res, 413, 'KEYVEND_BODY_TOO_LARGE');
    },
  );

  it('answers a non-JSON media type with 415', async () => {
    const res = await send(kv, '/v1/devices', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'profile=demo',
    });
    expectCoded(res, 415, 'KEYVEND_UNSUPPORTED_MEDIA_TYPE');
  });

  it.each([
    [{ ttl: 'long' }],
    [{ ttl: -5 }],
    [{ ttl: 1.5 }],
    [{ ttl: 1e12 }],
    [{ other: 1 }],
    [[1]],
  ])('answers a vend body of the wrong shape (%j) with 400', async (body) => {
    const res = await postJson(`${kv.url}/v1/credentials`, body, {
      authorization: `Bearer ${token}`,
    });
    expectCoded(res, 400, 'KEYVEND_BAD_REQUEST');
  });

  it('vends with no body at all', async () => {
    const res = await send(kv, '/v1/credentials', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
  });

  it.each([
    ['Bearer '],
    ['Basic dXNlcjpwYXNz'],
    [`Bearer ${'a'.repeat(5000)}`],
    ['Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
    ['Bearer \u00e9\u00e9'],
  ])('answers a hostile Authorization header (%s…) with 401', async (authorization) => {
    const res = await send(kv, '/v1/credentials', {
      method: 'POST',
      headers: { authorization },
    });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: expect.stringMatching(/^KEYVEND_TOKEN_/) } });
  });

  it('answers unknown routes and methods with a 404 JSON error', async () => {
    expectCoded(await send(kv, '/v1/nope', { method: 'GET' }), 404, 'KEYVEND_NOT_FOUND');
    expectCoded(await send(kv, '/v1/devices', { method: 'GET' }), 404, 'KEYVEND_NOT_FOUND');
  });

  it('never writes a registration token or AWS credentials to the log', async () => {
    const { token: fresh } = await registerDevice(kv);
    const creds = await postJson(
      `${kv.url}/v1/credentials`,
      {},
      { authorization: `Bearer ${fresh}` },
    );
    expect(creds.status).toBe(200);
    // Refused requests log too: make sure they carry no secret either.
    await postJson(`${kv.url}/v1/credentials`, { ttl: 'x' }, { authorization: `Bearer ${fresh}` });
    await postJson(`${kv.url}/v1/credentials`, {}, { authorization: `Bearer ${fresh}x` });
    const logs = kv.logs();
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain('request completed');
    for (const secret of [fresh, creds.body.SecretAccessKey, creds.body.SessionToken]) {
      expect(typeof secret).toBe('string');
      expect(logs).not.toContain(String(secret));
    }
    expect(logs).not.toContain(fresh.split('.')[2]);
  });
});
