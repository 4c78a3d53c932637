import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../src/local-aws/index.js';
import { type Creds, rejectionOf, startQuiet, stsFor } from './fixtures.js';

let aws: LocalAws;
let key: Creds;
let sts: STSClient;

beforeAll(async () => {
  aws = await startQuiet();
  key = aws.control.bootstrapKeyvendIdentity();
  sts = stsFor(aws, key);
});
afterAll(() => aws.close());
beforeEach(() => aws.control.reset());

const attempts = () => aws.control.requests().map((r) => [r.attempt, r.code]);

describe('throttling', () => {
  it('answers Throttling and the SDK retries it with the same invocation id', async () => {
    aws.control.throttleNext(1);
    await sts.send(new GetCallerIdentityCommand({}));
    expect(attempts()).toEqual([
      [1, 'Throttling'],
      [2, 'OK'],
    ]);
    const [first, second] = aws.control.requests();
    expect(first?.status).toBe(400);
    expect(first?.invocationId).toBe(second?.invocationId);
    expect(aws.control.stsCallCount('GetCallerIdentity')).toBe(2);
  });

  it('surfaces Throttling after the SDK has spent its three attempts', async () => {
    aws.control.throttleNext(3);
    const error = await rejectionOf(sts.send(new GetCallerIdentityCommand({})));
    expect(error.name).toBe('Throttling');
    expect(error.message).toBe('Rate exceeded');
    expect(error.$metadata?.attempts).toBe(3);
    expect(attempts().map(([a]) => a)).toEqual([1, 2, 3]);
  });

  it('throttles past the token bucket burst', async () => {
    aws.control.setRateLimit({ ratePerSecond: 0.001, burst: 2 });
    const once = stsFor(aws, key, { maxAttempts: 1 });
    await once.send(new GetCallerIdentityCommand({}));
    await once.send(new GetCallerIdentityCommand({}));
    const error = await rejectionOf(once.send(new GetCallerIdentityCommand({})));
    expect(error.name).toBe('Throttling');
  });
});

describe('injected faults', () => {
  it('answers 500 InternalFailure, which the SDK retries', async () => {
    aws.control.failNext(1, 'internal');
    await sts.send(new GetCallerIdentityCommand({}));
    expect(attempts()).toEqual([
      [1, 'InternalFailure'],
      [2, 'OK'],
    ]);
    expect(aws.control.requests()[0]?.status).toBe(500);
  });

  it('resets the connection, which the SDK retries', async () => {
    aws.control.failNext(1, 'reset');
    await sts.send(new GetCallerIdentityCommand({}));
    expect(attempts()).toEqual([
      [1, 'ConnectionReset'],
      [2, 'OK'],
    ]);
  });

  it('never answers a timed-out request, so the client gives up', async () => {
    aws.control.failNext(1, 'timeout');
    const impatient = stsFor(aws, key, {
      maxAttempts: 1,
      requestHandler: { requestTimeout: 150, throwOnRequestTimeout: true },
    });
    const error = await rejectionOf(impatient.send(new GetCallerIdentityCommand({})));
    expect(error.name).toBe('TimeoutError');
    expect(attempts()).toEqual([[1, 'Timeout']]);
    await expect(impatient.send(new GetCallerIdentityCommand({}))).resolves.toBeTruthy();
  });

  it('adds the configured latency to each answer', async () => {
    aws.control.setLatency(120);
    const started = performance.now();
    await sts.send(new GetCallerIdentityCommand({}));
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
  });

  it('puts every knob back on reset', async () => {
    aws.control.failNext(2, 'internal');
    aws.control.throttleNext(2);
    aws.control.reset();
    await stsFor(aws, key, { maxAttempts: 1 }).send(new GetCallerIdentityCommand({}));
    expect(attempts()).toEqual([[1, 'OK']]);
  });
});
