/**
 * The web-identity issuer in server mode end to end: keyvend's OIDC routes on a loopback
 * port, an IAM OIDC provider and role at the local STS endpoint, and AssumeRoleWithWebIdentity
 * sent unsigned by the real SDK. Forged, expired and wrong-audience keyvend ID tokens are
 * refused by the endpoint, and the refusal reaches the device as keyvend's own code.
 */

import type { STSClient } from '@aws-sdk/client-sts';
import { generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebIdentityIssuerConfig } from '../../src/config/issuer-schemas.js';
import { createStsClient } from '../../src/issuers/aws-clients.js';
import type { AwsCallError } from '../../src/issuers/aws-errors.js';
import { createIssuer } from '../../src/issuers/registry.js';
import { type OidcKeySource, WebIdentityIssuer } from '../../src/issuers/web-identity.js';
import { type LocalAws, type RoleInfo, startLocalAws } from '../../src/local-aws/index.js';
import { roleSessionName } from '../../src/policy/principal-name.js';
import type { KeyRing } from '../../src/tokens/key-ring.js';
import {
  awsConfig,
  device,
  devicePolicy,
  issueRequest,
  noWait,
  type OidcProviderServer,
  rejection,
  startOidcProvider,
} from './fixtures.js';

const AUDIENCE = 'keyvend-devices';
let aws: LocalAws;
let anonymousSts: STSClient;
let oidc: OidcProviderServer;
let keyRing: KeyRing;
let issuerUrl = '';
let role: RoleInfo;

beforeAll(async () => {
  aws = await startLocalAws({ log: () => {} });
  // No AWS credentials at all: AssumeRoleWithWebIdentity is unsigned.
  anonymousSts = createStsClient(awsConfig(), {
    endpoint: aws.url,
    credentials: () => {
      throw Object.assign(new Error('no credentials configured'), {
        name: 'CredentialsProviderError',
      });
    },
  });
  oidc = await startOidcProvider();
  ({ keyRing, url: issuerUrl } = oidc);
  const provider = aws.control.createOpenIdConnectProvider({
    url: issuerUrl,
    clientIds: [AUDIENCE],
  });
  const hostPath = issuerUrl.replace('http://', '');
  role = aws.control.createRole('web-devices', {
    trustPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: provider.arn },
          Action: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'],
          Condition: { StringEquals: { [`${hostPath}:aud`]: AUDIENCE } },
        },
      ],
    },
  });
});
afterAll(async () => {
  anonymousSts.destroy();
  await oidc.close();
  await aws.close();
});
afterEach(() => aws.control.reset());

function config(over: Partial<WebIdentityIssuerConfig> = {}): WebIdentityIssuerConfig {
  return {
    type: 'web-identity',
    roleArn: role.arn,
    audience: AUDIENCE,
    mode: 'server',
    tokenTtlSeconds: 300,
    maxSessionDuration: 3600,
    claimTags: { email: '${attr:email}' },
    transitiveTagKeys: [],
    ...over,
  };
}

function issuer(
  over: Partial<WebIdentityIssuerConfig> = {},
  deps: { keys?: OidcKeySource; clock?: () => Date } = {},
): WebIdentityIssuer {
  const built = createIssuer(config(over), {
    sts: anonymousSts,
    resilience: noWait,
    oidc: { keyRing: deps.keys ?? keyRing, issuerUrl: () => issuerUrl },
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  if (!(built instanceof WebIdentityIssuer)) throw new Error('not a web-identity issuer');
  return built;
}

function requestFor(id: string, attributes: Record<string, string> = {}) {
  const dev = device(id, { attributes });
  return issueRequest(dev, roleSessionName(dev.id), {
    policy: devicePolicy('app-data', id),
    durationSeconds: 7200,
  });
}

describe('WebIdentityIssuer (server mode)', () => {
  it('trades its own ID token for credentials without any AWS credentials of its own', async () => {
    const request = requestFor('d-web1', { email: 'ann@example.com' });
    const creds = await issuer().issue(request);
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(creds.principalArn).toBe(
      `arn:aws:sts::${aws.accountId}:assumed-role/web-devices/${request.principalName}`,
    );
    const session = aws.control.sessions().find((s) => s.accessKeyId === creds.accessKeyId);
    expect(session?.policy).toBe(request.policy);
    expect(session?.tags).toEqual(
      expect.arrayContaining([
        { key: 'keyvend-device', value: 'd-web1' },
        { key: 'email', value: 'ann@example.com' },
      ]),
    );
    // Clamped to the role's maximum; expiry from STS's answer.
    expect(creds.expiration.getTime()).toBe(session?.expiration.getTime());
    const lifetime = creds.expiration.getTime() - (session?.issuedAt.getTime() ?? 0);
    // Expiration goes over the wire in whole seconds while issuedAt keeps milliseconds, so the
    // lifetime is up to a second short of 3600 s (rounding made this test flaky).
    expect(lifetime).toBeGreaterThan(3599_000);
    expect(lifetime).toBeLessThanOrEqual(3600_000);
    const call = aws.control.requests().find((r) => r.action === 'AssumeRoleWithWebIdentity');
    expect(call?.accessKeyId).toBeUndefined();
    expect(JSON.stringify(call?.params)).not.toMatch(/eyJ/);
  });

  it('refuses a forged token signed with a key keyvend never published', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forger: OidcKeySource = {
      current: () => ({ kid: keyRing.current().kid, alg: 'RS256', privateKey }),
      jwks: () => ({ keys: [] }),
    };
    const err = await rejection(issuer({}, { keys: forger }).issue(requestFor('d-forged')));
    expect(err.code).toBe('KEYVEND_WEB_IDENTITY_REJECTED');
    expect((err.cause as AwsCallError).awsCode).toMatch(/^InvalidIdentityToken/);
    expect(aws.control.stsCallCount('AssumeRoleWithWebIdentity')).toBe(1);
  });

  it('refuses an expired token', async () => {
    const tenMinutesAgo = () => new Date(Date.now() - 600_000);
    const err = await rejection(issuer({}, { clock: tenMinutesAgo }).issue(requestFor('d-old')));
    expect(err.code).toBe('KEYVEND_WEB_IDENTITY_REJECTED');
    expect((err.cause as AwsCallError).awsCode).toMatch(/^ExpiredToken/);
  });

  it('refuses a token for an audience the provider does not list', async () => {
    const err = await rejection(issuer({ audience: 'other-app' }).issue(requestFor('d-aud')));
    expect(err.code).toBe('KEYVEND_WEB_IDENTITY_REJECTED');
    expect(err.statusCode).toBe(502);
    expect(err.message).not.toMatch(/audience/i);
  });

  it('keeps working across a key rotation (the old key stays published)', async () => {
    const before = await issuer().issue(requestFor('d-rot1'));
    await keyRing.rotate();
    const after = await issuer().issue(requestFor('d-rot2'));
    expect(before.accessKeyId).toMatch(/^ASIA/);
    expect(after.accessKeyId).toMatch(/^ASIA/);
  });
});
