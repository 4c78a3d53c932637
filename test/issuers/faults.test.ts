/**
 * STS faults end to end: the real STS client against the local endpoint, the issuer's
 * retries and circuit breaker, and the credential cache in front, composed as the vend
 * service composes them. Half of all STS calls throttled → every request still answered;
 * STS down → requests fail fast once the breaker opens, cached credentials keep being served,
 * and the issuer recovers by itself once STS answers again.
 */
import type { STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStsClient } from '../../src/issuers/aws-clients.js';
import { CredentialCache, credentialCacheKey } from '../../src/issuers/credential-cache.js';
import type { IssuedCredentials, IssueRequest, Issuer } from '../../src/issuers/issuer.js';
import { createIssuer } from '../../src/issuers/registry.js';
import { type LocalAws, startLocalAws } from '../../src/local-aws/index.js';
import { federationPrincipalName } from '../../src/policy/principal-name.js';
import { awsConfig, device, devicePolicy, issueRequest, rejection } from './fixtures.js';

let aws: LocalAws;
let sts: STSClient;
/** Gives up on an STS call after 200 ms, so the outage test spends little time waiting. */
let impatientSts: STSClient;

beforeAll(async () => {
  aws = await startLocalAws({ log: () => {} });
  const credentials = aws.control.bootstrapKeyvendIdentity();
  sts = createStsClient(awsConfig(), { endpoint: aws.url, credentials });
  impatientSts = createStsClient(awsConfig({ timeoutMs: 200 }), { endpoint: aws.url, credentials });
});
afterAll(async () => {
  sts.destroy();
  impatientSts.destroy();
  await aws.close();
});
afterEach(() => aws.control.reset());

/** A wall clock the test moves (the breaker's and the cache's). */
function testClock() {
  let now = Date.now();
  return { clock: () => new Date(now), advance: (ms: number) => (now += ms) };
}

function vendFor(issuer: Issuer, cache: CredentialCache) {
  return (request: IssueRequest): Promise<IssuedCredentials> =>
    cache.get(credentialCacheKey(request), () => issuer.issue(request));
}

function requestFor(id: string, durationSeconds = 3600) {
  const dev = device(id);
  return issueRequest(dev, federationPrincipalName(dev.id), {
    policy: devicePolicy('app-data', id),
    durationSeconds,
  });
}

describe('with half of all STS calls throttled', () => {
  it('answers every request, by retry or from the cache, with zero 5xx', async () => {
    const time = testClock();
    const devices = Array.from({ length: 40 }, (_, i) => requestFor(`d-half${i}`));
    // The backoff sleep returns once every device's first attempt has been throttled, so the
    // retries come after the throttled calls however the two cores schedule the requests.
    let waiting: (() => void)[] = [];
    const sleep = () =>
      new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === devices.length) {
          for (const wake of waiting) wake();
          waiting = [];
        }
      });
    const issuer = createIssuer(
      { type: 'federation-token' },
      { sts, clock: time.clock, resilience: { sleep, maxAttempts: 3 } },
    );
    const cache = new CredentialCache({
      maxEntries: 1000,
      minRemainingSeconds: 300,
      clock: time.clock,
    });
    const vend = vendFor(issuer, cache);

    // Round 1, all at once: every device's first STS call is throttled, its retry succeeds.
    aws.control.throttleNext(devices.length);
    const round1 = await Promise.allSettled(devices.map(vend));
    expect(round1.filter((r) => r.status === 'rejected')).toEqual([]);
    const calls = aws.control.requests().filter((r) => r.action === 'GetFederationToken');
    expect(calls).toHaveLength(2 * devices.length);
    expect(calls.filter((r) => r.code === 'Throttling')).toHaveLength(devices.length);

    // Round 2: STS throttles everything; fresh cache entries answer without STS.
    aws.control.throttleNext(1000);
    const round2 = await Promise.allSettled(devices.map(vend));
    expect(round2.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(aws.control.stsCallCount('GetFederationToken')).toBe(2 * devices.length);

    // Round 3: inside the refresh window and still throttled: still-valid entries answer.
    time.advance(50 * 60_000);
    const round3 = await Promise.allSettled(devices.map(vend));
    expect(round3.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(cache.stats().staleServed).toBe(devices.length);
  });
});

describe('with STS down', () => {
  it('fails fast once the breaker opens, serves cached credentials, and recovers by itself', async () => {
    const time = testClock();
    const issuer = createIssuer(
      { type: 'federation-token' },
      {
        sts: impatientSts,
        clock: time.clock,
        resilience: { random: () => 0, maxAttempts: 2, failureThreshold: 3, openMs: 10_000 },
      },
    );
    const cache = new CredentialCache({
      maxEntries: 1000,
      minRemainingSeconds: 300,
      clock: time.clock,
    });
    const vend = vendFor(issuer, cache);
    const cached = requestFor('d-cached');
    const before = await vend(cached);

    aws.control.failNext(10_000, 'timeout');
    // Until the breaker opens, each request waits for its attempts to time out.
    const slow: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const err = await rejection(vend(requestFor(`d-down${i}`)));
      slow.push(performance.now() - started);
      expect(err.code).toBe('KEYVEND_STS_UNAVAILABLE');
    }
    const callsWhenOpened = aws.control.stsCallCount();

    // Open: answered at once, without calling STS, with Retry-After.
    const fast: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const err = await rejection(vend(requestFor(`d-fast${i}`)));
      fast.push(performance.now() - started);
      expect(err.code).toBe('KEYVEND_STS_UNAVAILABLE');
      expect(err.statusCode).toBe(503);
      expect(Number(err.headers?.['retry-after'])).toBeGreaterThan(0);
    }
    expect(aws.control.stsCallCount()).toBe(callsWhenOpened);
    const slowest = Math.max(...fast);
    expect(slowest).toBeLessThan(Math.min(...slow) / 5);
    console.info(
      `STS down: ${slow.map((ms) => ms.toFixed(0)).join('/')} ms per request before the breaker opened, ` +
        `at most ${slowest.toFixed(2)} ms once open`,
    );

    // A device with valid cached credentials is still served, even inside its refresh window.
    time.advance(50 * 60_000 - 20_000);
    expect(await vend(cached)).toBe(before);

    // STS is back; after openMs the next request probes and closes the breaker.
    aws.control.reset();
    time.advance(10_000);
    const recovered = await vend(requestFor('d-after'));
    expect(recovered.accessKeyId).toMatch(/^ASIA/);
    const again = await vend(requestFor('d-after2'));
    expect(again.accessKeyId).toMatch(/^ASIA/);
  });
});
