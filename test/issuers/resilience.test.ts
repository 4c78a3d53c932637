import { describe, expect, it } from 'vitest';
import { isKeyvendError, KeyvendError } from '../../src/errors.js';
import { Resilience } from '../../src/issuers/resilience.js';

/** A clock the test moves, and a sleep that moves it instead of waiting. */
function fakeTime() {
  let now = Date.UTC(2026, 0, 1);
  const slept: number[] = [];
  return {
    clock: () => new Date(now),
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
    slept,
  };
}

const throttled = () => new KeyvendError('KEYVEND_STS_THROTTLED');
const unavailable = () => new KeyvendError('KEYVEND_STS_UNAVAILABLE');

async function failure(p: Promise<unknown>): Promise<KeyvendError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isKeyvendError(err)) throw new Error(`expected a KeyvendError, got ${String(err)}`);
  return err;
}

describe('Resilience retries', () => {
  it('retries a throttle and a transient failure, then answers', async () => {
    const time = fakeTime();
    const r = new Resilience({ ...time, random: () => 1, maxAttempts: 3 });
    const errors = [throttled(), unavailable()];
    let calls = 0;
    const out = await r.run(async () => {
      calls++;
      const err = errors.shift();
      if (err) throw err;
      return 'ok';
    });
    expect(out).toBe('ok');
    expect(calls).toBe(3);
    // Full jitter with random() = 1 gives the ceilings: 500 ms after a throttle, then 100 × 2.
    expect(time.slept).toEqual([500, 200]);
  });

  it('stops after maxAttempts and gives the last error', async () => {
    const time = fakeTime();
    const r = new Resilience({ ...time, random: () => 0.5, maxAttempts: 2 });
    let calls = 0;
    const err = await failure(
      r.run(async () => {
        calls++;
        throw unavailable();
      }),
    );
    expect(err.code).toBe('KEYVEND_STS_UNAVAILABLE');
    expect(calls).toBe(2);
    expect(r.stats()).toMatchObject({ attempts: 2, retries: 1 });
  });

  it('draws each backoff at random below the capped exponential ceiling', async () => {
    const time = fakeTime();
    const draws = [0.25, 0.75, 0.1, 0.9];
    const r = new Resilience({
      ...time,
      random: () => draws.shift() ?? 0,
      maxAttempts: 5,
      baseDelayMs: 100,
      maxDelayMs: 300,
    });
    await failure(
      r.run(async () => {
        throw unavailable();
      }),
    );
    expect(time.slept).toEqual([25, 150, 30, 270]);
  });

  it('does not retry a refusal such as a rejected policy', async () => {
    const r = new Resilience({ ...fakeTime(), maxAttempts: 3 });
    let calls = 0;
    const err = await failure(
      r.run(async () => {
        calls++;
        throw new KeyvendError('KEYVEND_POLICY_REJECTED');
      }),
    );
    expect(err.code).toBe('KEYVEND_POLICY_REJECTED');
    expect(calls).toBe(1);
  });
});

describe('Resilience circuit breaker', () => {
  function breaker() {
    const time = fakeTime();
    const states: string[] = [];
    const r = new Resilience({
      ...time,
      random: () => 0,
      maxAttempts: 1,
      failureThreshold: 3,
      openMs: 10_000,
      onStateChange: (s) => states.push(s),
    });
    return { r, time, states };
  }
  const down = async (): Promise<never> => {
    throw unavailable();
  };

  it('opens after N consecutive failed calls and then fails fast without calling', async () => {
    const { r, time, states } = breaker();
    for (let i = 0; i < 3; i++) await failure(r.run(down));
    expect(r.state).toBe('open');
    time.advance(2500);
    let called = false;
    const err = await failure(
      r.run(async () => {
        called = true;
        return 'x';
      }),
    );
    expect(called).toBe(false);
    expect(err.code).toBe('KEYVEND_STS_UNAVAILABLE');
    expect(err.statusCode).toBe(503);
    expect(err.headers?.['retry-after']).toBe('8');
    expect(r.stats()).toMatchObject({ rejected: 1, opens: 1 });
    expect(states).toEqual(['open']);
  });

  it('a success in between resets the count', async () => {
    const { r } = breaker();
    await failure(r.run(down));
    await failure(r.run(down));
    await r.run(async () => 'ok');
    await failure(r.run(down));
    await failure(r.run(down));
    expect(r.state).toBe('closed');
  });

  it('lets one probe through after openMs and closes when it succeeds', async () => {
    const { r, time, states } = breaker();
    for (let i = 0; i < 3; i++) await failure(r.run(down));
    time.advance(10_000);
    expect(r.state).toBe('half-open');
    let release: (v: string) => void = () => {};
    const probe = r.run(() => new Promise<string>((resolve) => (release = resolve)));
    // While the probe is out, others still fail fast.
    expect((await failure(r.run(async () => 'no'))).code).toBe('KEYVEND_STS_UNAVAILABLE');
    release('yes');
    expect(await probe).toBe('yes');
    expect(r.state).toBe('closed');
    expect(await r.run(async () => 'again')).toBe('again');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('reopens when the probe fails, for another full openMs', async () => {
    const { r, time } = breaker();
    for (let i = 0; i < 3; i++) await failure(r.run(down));
    time.advance(10_000);
    await failure(r.run(down));
    expect(r.state).toBe('open');
    time.advance(9_999);
    expect(r.state).toBe('open');
    time.advance(1);
    expect(r.state).toBe('half-open');
    expect(r.stats().opens).toBe(2);
  });

  it('counts an answer from STS, even a refusal, as STS being reachable', async () => {
    const { r } = breaker();
    await failure(r.run(down));
    await failure(r.run(down));
    await failure(
      r.run(async () => {
        throw new KeyvendError('KEYVEND_AWS_ACCESS_DENIED');
      }),
    );
    await failure(r.run(down));
    expect(r.state).toBe('closed');
  });
});
