/**
 * The federation-token issuer end to end: the real STS client against the local AWS endpoint,
 * keyvend's code unmocked. Covers issuance, every error translation the endpoint can be made
 * to produce, the retry budget (no SDK retries on top), TTL clamping, and the credential
 * cache's single flight and margin with STS's own expiry.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStsClient } from '../../src/issuers/aws-clients.js';
import { CredentialCache, credentialCacheKey } from '../../src/issuers/credential-cache.js';
import { createIssuer } from '../../src/issuers/registry.js';
import { computeTtl } from '../../src/issuers/ttl.js';
import { type LocalAws, startLocalAws } from '../../src/local-aws/index.js';
import { federationPrincipalName } from '../../src/policy/principal-name.js';
import {
  awsConfig,
  device,
  devicePolicy,
  issueRequest,
  noWait,
  rejection,
  TEMPLATE,
} from './fixtures.js';

let aws: LocalAws;
let sts: STSClient;
const T0 = new Date('2026-06-01T12:00:00Z');

beforeAll(async () => {
  aws = await startLocalAws({ log: () => {} });
  const identity = aws.control.bootstrapKeyvendIdentity();
  sts = createStsClient(awsConfig(), { endpoint: aws.url, credentials: identity });
});
afterAll(async () => {
  sts.destroy();
  await aws.close();
});
afterEach(() => aws.control.reset());

const issuer = (client = sts) =>
  createIssuer({ type: 'federation-token' }, { sts: client, resilience: noWait });

function requestFor(id: string, over: Parameters<typeof issueRequest>[2] = {}) {
  const dev = device(id);
  return issueRequest(dev, federationPrincipalName(dev.id), {
    policy: devicePolicy('app-data', id),
    ...over,
  });
}

describe('FederationTokenIssuer', () => {
  it("issues working credentials for the device's principal with STS's own expiry", async () => {
    const request = requestFor('d-issue1', {
      policyArns: [],
      tags: [{ key: 'team', value: 'blue' }],
    });
    const creds = await issuer().issue(request);
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(creds.principalArn).toBe(
      `arn:aws:sts::${aws.accountId}:federated-user/${request.principalName}`,
    );
    expect(creds.principalId).toBe(`${aws.accountId}:${request.principalName}`);
    expect(creds.accountId).toBe(aws.accountId);

    const session = aws.control.sessions().find((s) => s.accessKeyId === creds.accessKeyId);
    expect(session?.policy).toBe(request.policy);
    expect(session?.tags).toContainEqual({ key: 'team', value: 'blue' });
    expect(creds.expiration.getTime()).toBe(session?.expiration.getTime());

    const asDevice = new STSClient({
      region: 'us-east-1',
      endpoint: aws.url,
      credentials: creds,
      maxAttempts: 1,
    });
    const who = await asDevice.send(new GetCallerIdentityCommand({}));
    asDevice.destroy();
    expect(who.Arn).toBe(creds.principalArn);
  });

  it('reaches the endpoint named by AWS_ENDPOINT_URL_STS when no endpoint is configured', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_STS;
    process.env.AWS_ENDPOINT_URL_STS = aws.url;
    try {
      const fromEnv = createStsClient(awsConfig(), {
        credentials: aws.control.bootstrapKeyvendIdentity(),
      });
      const creds = await issuer(fromEnv).issue(requestFor('d-env'));
      fromEnv.destroy();
      expect(aws.control.sessions().map((x) => x.accessKeyId)).toContain(creds.accessKeyId);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_STS;
      else process.env.AWS_ENDPOINT_URL_STS = saved;
    }
  });

  it('sends no Policy, PolicyArns or Tags when the request has none', async () => {
    const creds = await issuer().issue(requestFor('d-bare', { policy: undefined }));
    const record = aws.control.requests().find((r) => r.action === 'GetFederationToken');
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(Object.keys(record?.params ?? {}).sort()).toEqual(
      ['Action', 'DurationSeconds', 'Name', 'Version'].sort(),
    );
  });

  it('asks STS for the clamped TTL', async () => {
    aws.control.setClock(T0);
    const profile = { ttl: { default: 3600, max: 43_200 } };
    for (const [requested, expected] of [
      [undefined, 3600],
      [60, 900],
      [100_000, 43_200],
    ] as const) {
      const creds = await issuer().issue(
        requestFor('d-ttl', { durationSeconds: computeTtl(requested, profile) }),
      );
      expect((creds.expiration.getTime() - T0.getTime()) / 1000).toBe(expected);
    }
  });
});

describe('FederationTokenIssuer error translation', () => {
  it('retries throttling within the attempt budget, with no SDK retries on top', async () => {
    aws.control.throttleNext(2);
    const creds = await issuer().issue(requestFor('d-thr1'));
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(aws.control.stsCallCount('GetFederationToken')).toBe(3);
  });

  it('answers 503 KEYVEND_STS_THROTTLED with Retry-After once the budget is spent', async () => {
    aws.control.throttleNext(10);
    const err = await rejection(issuer().issue(requestFor('d-thr2')));
    expect(err.code).toBe('KEYVEND_STS_THROTTLED');
    expect(err.statusCode).toBe(503);
    expect(err.headers?.['retry-after']).toMatch(/^\d+$/);
    expect(aws.control.stsCallCount('GetFederationToken')).toBe(3);
  });

  it.each(['internal', 'reset'] as const)(
    'answers 503 KEYVEND_STS_UNAVAILABLE when STS fails with %s',
    async (kind) => {
      aws.control.failNext(10, kind);
      const err = await rejection(issuer().issue(requestFor(`d-${kind}`)));
      expect(err.code).toBe('KEYVEND_STS_UNAVAILABLE');
      expect(err.statusCode).toBe(503);
      expect(err.headers?.['retry-after']).toBeDefined();
    },
  );

  it('answers 503 KEYVEND_STS_UNAVAILABLE when STS does not answer within aws.timeoutMs', async () => {
    const identity = aws.control.bootstrapKeyvendIdentity();
    const quick = createStsClient(awsConfig({ timeoutMs: 200 }), {
      endpoint: aws.url,
      credentials: identity,
    });
    aws.control.failNext(1, 'timeout');
    const started = performance.now();
    const err = await rejection(
      createIssuer(
        { type: 'federation-token' },
        { sts: quick, resilience: { ...noWait, maxAttempts: 1 } },
      ).issue(requestFor('d-timeout')),
    );
    quick.destroy();
    expect(err.code).toBe('KEYVEND_STS_UNAVAILABLE');
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('recovers on a retry after one transient failure', async () => {
    aws.control.failNext(1, 'internal');
    const creds = await issuer().issue(requestFor('d-flaky'));
    expect(creds.accessKeyId).toMatch(/^ASIA/);
  });

  it.each([
    ['a policy that is not a policy', { policy: '{"Version":"2012-10-17","Statement":"no"}' }],
    [
      'a policy over 2,048 characters',
      {
        policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 's3:GetObject',
              Resource: `arn:aws:s3:::${'b'.repeat(2100)}/*`,
            },
          ],
        }),
      },
    ],
  ])('answers KEYVEND_POLICY_REJECTED naming the template for %s', async (_what, over) => {
    const err = await rejection(issuer().issue(requestFor('d-policy', over)));
    expect(err.code).toBe('KEYVEND_POLICY_REJECTED');
    expect(err.message).toContain(TEMPLATE);
    expect(aws.control.stsCallCount()).toBe(1);
  });

  it('answers KEYVEND_POLICY_REJECTED when the packed policy is too large', async () => {
    aws.control.forcePackedPolicyTooLarge(true);
    const err = await rejection(issuer().issue(requestFor('d-packed')));
    expect(err.code).toBe('KEYVEND_POLICY_REJECTED');
    expect(err.message).toContain(TEMPLATE);
  });

  it("answers 502 KEYVEND_AWS_ACCESS_DENIED when keyvend's identity may not federate", async () => {
    aws.control.createUser('no-rights');
    const keys = aws.control.createAccessKey('no-rights');
    const weak = createStsClient(awsConfig(), { endpoint: aws.url, credentials: keys });
    const err = await rejection(issuer(weak).issue(requestFor('d-denied')));
    weak.destroy();
    expect(err.code).toBe('KEYVEND_AWS_ACCESS_DENIED');
    expect(err.statusCode).toBe(502);
    expect(err.message).toMatch(/keyvend's own AWS identity/);
    expect(err.message).not.toMatch(/not authorized to perform/);
    expect(String((err.cause as Error).message)).toMatch(/AccessDenied/);
  });

  it.each([
    [
      'an unknown access key',
      { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x'.repeat(40) },
    ],
    ['a wrong secret', 'wrong-secret'],
  ] as const)('answers 502 KEYVEND_AWS_CREDENTIALS_INVALID for %s', async (_what, creds) => {
    const identity = aws.control.bootstrapKeyvendIdentity();
    const credentials =
      creds === 'wrong-secret'
        ? { accessKeyId: identity.accessKeyId, secretAccessKey: 'y'.repeat(40) }
        : creds;
    const bad = createStsClient(awsConfig(), { endpoint: aws.url, credentials });
    const err = await rejection(issuer(bad).issue(requestFor('d-badkey')));
    bad.destroy();
    expect(err.code).toBe('KEYVEND_AWS_CREDENTIALS_INVALID');
    expect(err.statusCode).toBe(502);
  });

  it('answers KEYVEND_AWS_ERROR when STS is not activated in the region', async () => {
    aws.control.setRegionDisabled('us-east-1', true);
    const err = await rejection(issuer().issue(requestFor('d-region')));
    expect(err.code).toBe('KEYVEND_AWS_ERROR');
    expect(err.statusCode).toBe(502);
  });
});

describe('CredentialCache in front of the federation-token issuer', () => {
  it('turns 100 simultaneous requests for one device into exactly 1 STS call', async () => {
    aws.control.setLatency(50);
    const cache = new CredentialCache({ maxEntries: 100, minRemainingSeconds: 300 });
    const fed = issuer();
    const request = requestFor('d-crowd');
    const key = credentialCacheKey(request);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => cache.get(key, () => fed.issue(request))),
    );
    expect(aws.control.stsCallCount('GetFederationToken')).toBe(1);
    expect(new Set(results.map((r) => r.accessKeyId)).size).toBe(1);
    expect(cache.stats()).toMatchObject({ mints: 1, inflightJoins: 99 });
  });

  it("refreshes by STS's expiry: serves until the margin, then mints once more", async () => {
    let now = T0.getTime();
    aws.control.setClock(T0);
    const cache = new CredentialCache({
      maxEntries: 100,
      minRemainingSeconds: 300,
      refreshShare: 0,
      clock: () => new Date(now),
    });
    const fed = issuer();
    const request = requestFor('d-margin', { durationSeconds: 900 });
    const key = credentialCacheKey(request);
    const first = await cache.get(key, () => fed.issue(request));
    now += 599_000; // 301 s left
    expect(await cache.get(key, () => fed.issue(request))).toBe(first);
    now += 2000; // 299 s left
    const second = await cache.get(key, () => fed.issue(request));
    expect(second.accessKeyId).not.toBe(first.accessKeyId);
    expect(aws.control.stsCallCount('GetFederationToken')).toBe(2);
  });
});
