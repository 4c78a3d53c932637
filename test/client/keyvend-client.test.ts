/**
 * The client library against a scripted loopback server (`fake-keyvend.ts`): request counting,
 * refresh timing with an injected clock, challenges, refusals and retries. The same library
 * against the real keyvend is covered by `credential-provider.test.ts` and `browser.test.ts`.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createKeyvend,
  KeyvendClientError,
  type KeyvendOptions,
  memoryStorage,
  webStorage,
} from '../../src/client/index.js';
import { errorBody, type FakeKeyvend, startFakeKeyvend } from './fake-keyvend.js';

let fake: FakeKeyvend;
beforeAll(async () => {
  fake = await startFakeKeyvend();
});
afterAll(() => fake.close());
afterEach(() => fake.reset());

function client(overrides: Partial<KeyvendOptions> = {}) {
  return createKeyvend({ url: fake.url, profile: 'demo', storage: memoryStorage(), ...overrides });
}

/** A clock the test moves by hand. */
function manualClock(start = Date.parse('2026-05-01T12:00:00Z')) {
  let t = start;
  return {
    now: () => new Date(t),
    advance: (ms: number) => {
      t += ms;
    },
    at: (offsetMs: number) => new Date(start + offsetMs),
  };
}

async function rejection(promise: Promise<unknown>): Promise<KeyvendClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyvendClientError);
  return err as KeyvendClientError;
}

describe('credentials()', () => {
  it('serves 100 concurrent callers with one registration and one credentials request', async () => {
    const kv = client();
    const all = await Promise.all(Array.from({ length: 100 }, () => kv.credentials()));
    expect(fake.count('/v1/devices')).toBe(1);
    expect(fake.count('/v1/credentials')).toBe(1);
    expect(new Set(all.map((c) => c.accessKeyId)).size).toBe(1);
    expect(all[0]).toMatchObject({
      region: 'us-east-1',
      accountId: '123456789012',
      deviceId: 'd-1',
    });
    expect(all[0]?.expiration).toBeInstanceOf(Date);
  });

  it('serves cached credentials until the refresh margin, then refreshes once', async () => {
    const clock = manualClock();
    fake.expiration = () => clock.at(3600_000);
    const kv = client({ clock: clock.now });
    const first = await kv.credentials();
    expect(fake.count('/v1/credentials')).toBe(1);

    clock.advance(54 * 60_000); // 6 minutes left: more than the 5-minute margin
    expect((await kv.credentials()).accessKeyId).toBe(first.accessKeyId);
    expect(fake.count('/v1/credentials')).toBe(1);

    clock.advance(2 * 60_000); // 4 minutes left: refresh, shared by concurrent callers
    fake.expiration = () => clock.at(2 * 3600_000);
    const refreshed = await Promise.all([kv.credentials(), kv.credentials(), kv.credentials()]);
    expect(fake.count('/v1/credentials')).toBe(2);
    expect(refreshed[0]?.accessKeyId).not.toBe(first.accessKeyId);
    expect(new Set(refreshed.map((c) => c.accessKeyId)).size).toBe(1);
  });

  it('honours a custom refresh margin', async () => {
    const clock = manualClock();
    fake.expiration = () => clock.at(3600_000);
    const kv = client({ clock: clock.now, refreshMarginSeconds: 1800 });
    await kv.credentials();
    clock.advance(31 * 60_000);
    await kv.credentials();
    expect(fake.count('/v1/credentials')).toBe(2);
  });

  it('keeps still-valid credentials when an early refresh is throttled, and backs off', async () => {
    const clock = manualClock();
    fake.expiration = () => clock.at(3600_000);
    const kv = client({ clock: clock.now, retries: 0 });
    const first = await kv.credentials();

    clock.advance(57 * 60_000);
    fake.script('/v1/credentials', {
      status: 503,
      headers: { 'retry-after': '20' },
      body: errorBody('KEYVEND_STS_THROTTLED'),
    });
    expect((await kv.credentials()).accessKeyId).toBe(first.accessKeyId);
    expect(fake.count('/v1/credentials')).toBe(2);

    clock.advance(10_000); // inside Retry-After: no new request
    expect((await kv.credentials()).accessKeyId).toBe(first.accessKeyId);
    expect(fake.count('/v1/credentials')).toBe(2);

    clock.advance(11_000); // past it: tries again and succeeds
    expect((await kv.credentials()).accessKeyId).not.toBe(first.accessKeyId);
    expect(fake.count('/v1/credentials')).toBe(3);
  });

  it('throws a throttling refusal with its Retry-After when nothing valid is cached', async () => {
    const kv = client({ retries: 0 });
    fake.script('/v1/credentials', {
      status: 503,
      headers: { 'retry-after': '7' },
      body: errorBody('KEYVEND_STS_UNAVAILABLE'),
    });
    const err = await rejection(kv.credentials());
    expect(err).toMatchObject({ code: 'KEYVEND_STS_UNAVAILABLE', status: 503, retryAfter: 7 });
    expect(err.retryable).toBe(true);
  });

  it('retries a 429 after its Retry-After and then succeeds', async () => {
    const kv = client();
    fake.script('/v1/credentials', {
      status: 429,
      headers: { 'retry-after': '0' },
      body: errorBody('KEYVEND_RATE_LIMITED'),
    });
    await kv.credentials();
    expect(fake.count('/v1/credentials')).toBe(2);
  });

  it('does not wait for a Retry-After longer than maxRetryDelayMs', async () => {
    const kv = client({ maxRetryDelayMs: 1000 });
    fake.script('/v1/credentials', {
      status: 429,
      headers: { 'retry-after': '60' },
      body: errorBody('KEYVEND_RATE_LIMITED'),
    });
    const err = await rejection(kv.credentials());
    expect(err).toMatchObject({ code: 'KEYVEND_RATE_LIMITED', retryAfter: 60 });
    expect(fake.count('/v1/credentials')).toBe(1);
  });

  it('surfaces a disabled device as KEYVEND_DEVICE_DISABLED without registering again', async () => {
    const kv = client();
    await kv.credentials({ forceRefresh: true });
    fake.script('/v1/credentials', { status: 403, body: errorBody('KEYVEND_DEVICE_DISABLED') });
    const err = await rejection(kv.credentials({ forceRefresh: true }));
    expect(err).toMatchObject({ code: 'KEYVEND_DEVICE_DISABLED', status: 403 });
    expect(fake.count('/v1/devices')).toBe(1);
    // Nothing cached survives: the next call asks the server again.
    fake.script('/v1/credentials', { status: 403, body: errorBody('KEYVEND_DEVICE_DISABLED') });
    await rejection(kv.credentials());
    expect(fake.count('/v1/credentials')).toBe(3);
  });

  it('registers again when the server refuses the token for good', async () => {
    const storage = memoryStorage();
    const kv = client({ storage });
    const before = await kv.register();
    fake.revoke(before.token);
    const creds = await kv.credentials();
    const after = await kv.registration();
    expect(fake.count('/v1/devices')).toBe(2);
    expect(after?.token).not.toBe(before.token);
    expect(creds.deviceId).toBe(after?.deviceId);
  });

  it('registers again when the stored token has expired by the clock', async () => {
    const storage = memoryStorage();
    const clock = manualClock(Date.now());
    await client({ storage, clock: clock.now }).register();
    clock.advance(366 * 86_400_000);
    await client({ storage, clock: clock.now }).register();
    expect(fake.count('/v1/devices')).toBe(2);
  });

  it('reuses a stored registration in a new client instance', async () => {
    const storage = memoryStorage();
    const first = await client({ storage }).register();
    const second = client({ storage });
    await second.credentials();
    expect(fake.count('/v1/devices')).toBe(1);
    expect((await second.registration())?.deviceId).toBe(first.deviceId);
  });

  it('ignores a registration stored for another keyvend URL', async () => {
    const storage = memoryStorage();
    await client({ storage }).register();
    const other = client({ storage, url: `${fake.url}/` });
    expect((await other.registration())?.url).toBe(fake.url); // trailing slash is the same URL
    await storage.set('keyvend:demo:registration', {
      ...(await other.registration()),
      url: 'https://elsewhere.example',
    });
    expect(await client({ storage }).registration()).toBeUndefined();
  });

  it('forget() drops the registration so the next call registers a new device', async () => {
    const kv = client();
    const first = await kv.register();
    await kv.forget();
    expect(await kv.registration()).toBeUndefined();
    const second = await kv.register();
    expect(second.deviceId).not.toBe(first.deviceId);
  });

  it('lets one caller stop waiting without cancelling the shared request', async () => {
    const kv = client();
    const controller = new AbortController();
    const waiting = kv.credentials({ signal: controller.signal });
    const other = kv.credentials();
    controller.abort();
    expect((await rejection(waiting)).code).toBe('KEYVEND_CLIENT_ABORTED');
    expect((await other).accessKeyId).toMatch(/^ASIA/);
  });
});

describe('registration challenges', () => {
  it('solves a proof-of-work challenge itself, without calling onChallenge', async () => {
    let asked = 0;
    fake.script('/v1/devices', {
      status: 401,
      body: errorBody('KEYVEND_CHALLENGE_REQUIRED', {
        challenges: [
          {
            type: 'proof-of-work',
            id: 'pow',
            algorithm: 'sha256',
            difficulty: 8,
            challenge: 'c-123',
            expiresAt: new Date(Date.now() + 60_000).toISOString(),
          },
        ],
      }),
    });
    const kv = client({
      onChallenge: () => {
        asked++;
        return 'nope';
      },
    });
    await kv.credentials();
    expect(asked).toBe(0);
    const [first, second] = fake.requests.filter((r) => r.path === '/v1/devices');
    expect(first?.body).toEqual({ profile: 'demo' });
    const answers = (second?.body?.answers ?? {}) as Record<
      string,
      { challenge: string; nonce: string }
    >;
    expect(answers.pow?.challenge).toBe('c-123');
    // A real solution: SHA-256("challenge.nonce") starts with at least 8 zero bits.
    const digest = createHash('sha256').update(`c-123.${answers.pow?.nonce}`).digest();
    expect(digest[0]).toBe(0);
  });

  it('hands a captcha challenge to onChallenge and sends its answer under the challenge id', async () => {
    const seen: unknown[] = [];
    fake.script('/v1/devices', {
      status: 401,
      body: errorBody('KEYVEND_CHALLENGE_REQUIRED', {
        challenges: [{ type: 'captcha', id: 'human', provider: 'turnstile', siteKey: 'site-1' }],
      }),
    });
    const kv = client({
      answers: { invite: 'INV-1' },
      onChallenge: (challenge) => {
        seen.push(challenge);
        return 'captcha-token';
      },
    });
    await kv.register();
    expect(seen).toEqual([
      { type: 'captcha', id: 'human', provider: 'turnstile', siteKey: 'site-1' },
    ]);
    const last = fake.requests.filter((r) => r.path === '/v1/devices').at(-1);
    expect(last?.body?.answers).toEqual({ invite: 'INV-1', human: 'captcha-token' });
  });

  it('fails with KEYVEND_CLIENT_CHALLENGE_UNANSWERED when no handler answers', async () => {
    const challenge = { type: 'captcha', id: 'captcha', provider: 'hcaptcha', siteKey: 's' };
    fake.script('/v1/devices', {
      status: 401,
      body: errorBody('KEYVEND_CHALLENGE_REQUIRED', { challenges: [challenge] }),
    });
    const err = await rejection(client().register());
    expect(err.code).toBe('KEYVEND_CLIENT_CHALLENGE_UNANSWERED');
    expect(err.challenges).toEqual([challenge]);
    expect(err.message).toContain('onChallenge');
  });

  it('gives up after four rounds of challenges', async () => {
    const reply = {
      status: 401,
      body: errorBody('KEYVEND_CHALLENGE_REQUIRED', {
        challenges: [{ type: 'invite', id: 'invite' }],
      }),
    };
    fake.script('/v1/devices', reply, reply, reply, reply, reply);
    const err = await rejection(client({ onChallenge: () => 'code' }).register());
    expect(err.code).toBe('KEYVEND_CHALLENGE_REQUIRED');
    expect(fake.count('/v1/devices')).toBe(4);
  });

  it('asks for a fresh puzzle when its proof-of-work answer arrived too late', async () => {
    const puzzle = (challenge: string) => ({
      status: 401,
      body: errorBody('KEYVEND_CHALLENGE_REQUIRED', {
        challenges: [{ type: 'proof-of-work', id: 'pow', difficulty: 8, challenge }],
      }),
    });
    fake.script(
      '/v1/devices',
      puzzle('old'),
      { status: 403, body: errorBody('KEYVEND_POW_EXPIRED') },
      puzzle('new'),
    );
    await client().register();
    const bodies = fake.requests.filter((r) => r.path === '/v1/devices').map((r) => r.body);
    expect(bodies).toHaveLength(4);
    expect(bodies[2]).toEqual({ profile: 'demo' });
    expect(bodies[3]?.answers).toMatchObject({ pow: { challenge: 'new' } });
  });

  it('keeps the server error code, status and details of a refused registration', async () => {
    fake.script('/v1/devices', {
      status: 403,
      body: errorBody('KEYVEND_VALIDATION_DENIED', { reason: 'network' }),
    });
    const err = await rejection(client().register());
    expect(err).toMatchObject({
      code: 'KEYVEND_VALIDATION_DENIED',
      status: 403,
      details: { reason: 'network' },
    });
  });
});

describe('key-bound devices', () => {
  it('registers with a public key and signs a fresh DPoP proof for every request', async () => {
    const storage = memoryStorage();
    const kv = client({ storage, keyBound: true });
    await kv.credentials();
    await kv.credentials({ forceRefresh: true });
    const [registration] = fake.requests.filter((r) => r.path === '/v1/devices');
    expect(registration?.body?.publicKey).toMatchObject({ kty: expect.any(String) });
    expect(registration?.body?.publicKey).not.toHaveProperty('d');
    const proofs = fake.requests
      .filter((r) => r.path === '/v1/credentials')
      .map((r) => r.headers.dpop);
    expect(proofs).toHaveLength(2);
    expect(proofs[0]).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(proofs[0]).not.toBe(proofs[1]);
    const stored = (await storage.get('keyvend:demo:key')) as CryptoKeyPair;
    expect(stored.privateKey.extractable).toBe(false);
  });

  it('registers again when the stored key pair is gone', async () => {
    const storage = memoryStorage();
    await client({ storage, keyBound: true }).register();
    await storage.delete('keyvend:demo:key');
    await client({ storage, keyBound: true }).register();
    expect(fake.count('/v1/devices')).toBe(2);
  });

  it('refuses to keep a key pair in Web Storage before contacting the server', async () => {
    const area = new Map<string, string>();
    const storage = webStorage({
      getItem: (k) => area.get(k) ?? null,
      setItem: (k, v) => void area.set(k, v),
      removeItem: (k) => void area.delete(k),
    });
    const err = await rejection(client({ storage, keyBound: true }).register());
    expect(err.code).toBe('KEYVEND_CLIENT_STORAGE_UNSUPPORTED');
    expect(fake.count('/v1/devices')).toBe(0);
  });
});

describe('transport failures', () => {
  it('reports an unreachable server as KEYVEND_CLIENT_NETWORK', async () => {
    const err = await rejection(
      createKeyvend({
        url: 'http://127.0.0.1:9',
        profile: 'demo',
        storage: memoryStorage(),
        retries: 0,
      }).register(),
    );
    expect(err.code).toBe('KEYVEND_CLIENT_NETWORK');
    expect(err.retryable).toBe(true);
  });

  it('reports a 200 that is not keyvend JSON as KEYVEND_CLIENT_BAD_RESPONSE', async () => {
    fake.script('/v1/devices', { status: 200, body: { hello: 'world' } });
    expect((await rejection(client().register())).code).toBe('KEYVEND_CLIENT_BAD_RESPONSE');
  });

  it('times out a server that does not answer', async () => {
    const err = await rejection(
      client({
        timeoutMs: 50,
        retries: 0,
        fetch: (_url, init) =>
          new Promise((_resolve, reject) =>
            init.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
          ),
      }).register(),
    );
    expect(err.code).toBe('KEYVEND_CLIENT_NETWORK');
    expect(err.message).toContain('within 50 ms');
  });

  it('never puts the registration token in an error message', async () => {
    const kv = client({ retries: 0 });
    const { token } = await kv.register();
    fake.script('/v1/credentials', { status: 500, body: 'oops' });
    const err = await rejection(kv.credentials());
    expect(err.message).not.toContain(token);
    expect(err.status).toBe(500);
  });
});
