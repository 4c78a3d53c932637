/**
 * Rate limits per profile: registration per client address, vending per device — one
 * device at its limit does not slow another down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_PROFILE,
  type Keyvend,
  postJson,
  registerDevice,
  startKeyvend,
} from '../support/harness.js';

describe('rate limits', () => {
  let kv: Keyvend;
  beforeAll(async () => {
    kv = await startKeyvend({
      config: {
        profiles: {
          demo: DEMO_PROFILE,
          tight: {
            ...DEMO_PROFILE,
            rateLimits: {
              register: { max: 3, windowSeconds: 60 },
              vend: { max: 2, windowSeconds: 60 },
            },
          },
        },
      },
    });
  });
  afterAll(() => kv.close());

  it('limits registrations per client address with a 429 JSON error and Retry-After', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof postJson>> | undefined;
    for (let i = 0; i < 4; i++) {
      last = await postJson(`${kv.url}/v1/devices`, { profile: 'tight' });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
    expect(last?.body).toMatchObject({ error: { code: 'KEYVEND_RATE_LIMITED' } });
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another profile's limit is its own.
    expect((await postJson(`${kv.url}/v1/devices`, { profile: 'demo' })).status).toBe(201);
  });

  it('limits vending per device, not per address', async () => {
    const a = await registerDevice(kv, 'demo');
    // Registered on 'demo' (the 'tight' registration budget is spent), so vend on 'demo'
    // stays unlimited here; a 'tight' device is made directly through the service.
    const tight = await kv.services.register.register({
      body: { profile: 'tight' },
      rawBody: '{"profile":"tight"}',
      headers: {},
      clientIp: '203.0.113.9',
    });
    const vend = (token: string) =>
      postJson(`${kv.url}/v1/credentials`, {}, { authorization: `Bearer ${token}` });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await vend(tight.token)).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect((await vend(a.token)).status).toBe(200);
  });
});
