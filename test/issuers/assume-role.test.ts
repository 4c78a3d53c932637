/**
 * The assume-role issuer end to end against the local STS endpoint: what it sends (session
 * name, SourceIdentity, session tags from the device, transitive keys, ExternalId, session
 * policy), TTL clamping to the role's maximum, tag checks before any call, and how the
 * role's refusals are translated.
 */
import type { STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AssumeRoleIssuerConfig } from '../../src/config/issuer-schemas.js';
import { AssumeRoleIssuer } from '../../src/issuers/assume-role.js';
import { createStsClient } from '../../src/issuers/aws-clients.js';
import { createIssuer } from '../../src/issuers/registry.js';
import {
  type KeyvendIdentity,
  type LocalAws,
  type RoleInfo,
  startLocalAws,
} from '../../src/local-aws/index.js';
import { roleSessionName } from '../../src/policy/principal-name.js';
import { KEYVEND_ROLE_ACTIONS, trustPolicy } from '../local-aws/fixtures.js';
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
let identity: KeyvendIdentity;
let role: RoleInfo;
let externalRole: RoleInfo;
let untaggableRole: RoleInfo;
const T0 = new Date('2026-06-01T12:00:00Z');

const trust = (actions: string[], condition?: Record<string, Record<string, string>>) =>
  trustPolicy(identity.arn, actions, condition);

beforeAll(async () => {
  aws = await startLocalAws({ log: () => {} });
  identity = aws.control.bootstrapKeyvendIdentity();
  sts = createStsClient(awsConfig(), { endpoint: aws.url, credentials: identity });
  role = aws.control.createRole('devices', { trustPolicy: trust(KEYVEND_ROLE_ACTIONS) });
  // The local endpoint checks the ExternalId condition on sts:TagSession too, so the tag
  // rights get their own statement.
  const partnerTrust = trust(['sts:AssumeRole'], {
    StringEquals: { 'sts:ExternalId': 'partner-42' },
  });
  partnerTrust.Statement.push(...trust(['sts:TagSession', 'sts:SetSourceIdentity']).Statement);
  externalRole = aws.control.createRole('partner', { trustPolicy: partnerTrust });
  untaggableRole = aws.control.createRole('no-tags', {
    trustPolicy: trust(['sts:AssumeRole', 'sts:SetSourceIdentity']),
  });
});
afterAll(async () => {
  sts.destroy();
  await aws.close();
});
afterEach(() => aws.control.reset());

function configFor(over: Partial<AssumeRoleIssuerConfig> = {}): AssumeRoleIssuerConfig {
  return {
    type: 'assume-role',
    roleArn: role.arn,
    maxSessionDuration: 3600,
    sessionTags: {},
    transitiveTagKeys: [],
    sourceIdentity: true,
    ...over,
  };
}

function issuer(over: Partial<AssumeRoleIssuerConfig> = {}): AssumeRoleIssuer {
  const built = createIssuer(configFor(over), { sts, resilience: noWait });
  if (!(built instanceof AssumeRoleIssuer)) throw new Error('not an assume-role issuer');
  return built;
}

function requestFor(id: string, attributes: Record<string, string> = {}, over = {}) {
  const dev = device(id, { attributes });
  return issueRequest(dev, roleSessionName(dev.id), {
    policy: devicePolicy('app-data', id),
    ...over,
  });
}

const sessionOf = (accessKeyId: string) =>
  aws.control.sessions().find((s) => s.accessKeyId === accessKeyId);

describe('AssumeRoleIssuer', () => {
  it('assumes the role as the principal, with SourceIdentity, tags and the session policy', async () => {
    const request = requestFor(
      'd-ar1',
      { email: 'ann@example.com' },
      { policyArns: [], tags: [{ key: 'tier', value: 'free' }] },
    );
    const creds = await issuer({
      sessionTags: { email: '${attr:email}', missing: '${attr:nope}' },
      transitiveTagKeys: ['email', 'missing'],
    }).issue(request);
    expect(creds.principalArn).toBe(
      `arn:aws:sts::${aws.accountId}:assumed-role/devices/${request.principalName}`,
    );
    expect(creds.principalId).toBe(`${role.roleId}:${request.principalName}`);
    const session = sessionOf(creds.accessKeyId);
    expect(session).toMatchObject({
      kind: 'assumed-role',
      name: request.principalName,
      sourceIdentity: request.principalName,
      policy: request.policy,
      transitiveTagKeys: ['email'],
    });
    expect(session?.tags).toEqual(
      expect.arrayContaining([
        { key: 'keyvend-device', value: 'd-ar1' },
        { key: 'keyvend-profile', value: 'mobile' },
        { key: 'email', value: 'ann@example.com' },
        { key: 'tier', value: 'free' },
      ]),
    );
    expect(session?.tags.map((t) => t.key)).not.toContain('missing');
    expect(creds.expiration.getTime()).toBe(session?.expiration.getTime());
  });

  it("clamps the TTL to the role's maximum session duration", async () => {
    aws.control.setClock(T0);
    const creds = await issuer({ maxSessionDuration: 3600 }).issue(
      requestFor('d-ar2', {}, { durationSeconds: 43_200 }),
    );
    expect((creds.expiration.getTime() - T0.getTime()) / 1000).toBe(3600);
    expect(issuer().maxDurationSeconds).toBe(3600);
  });

  it('leaves SourceIdentity out when the config turns it off', async () => {
    const creds = await issuer({ sourceIdentity: false }).issue(requestFor('d-ar3'));
    expect(sessionOf(creds.accessKeyId)?.sourceIdentity).toBeUndefined();
  });

  it('passes the ExternalId a partner role requires', async () => {
    const creds = await issuer({ roleArn: externalRole.arn, externalId: 'partner-42' }).issue(
      requestFor('d-ar4'),
    );
    expect(creds.principalArn).toContain('assumed-role/partner/');
    const err = await rejection(issuer({ roleArn: externalRole.arn }).issue(requestFor('d-ar4')));
    expect(err.code).toBe('KEYVEND_AWS_ACCESS_DENIED');
  });

  it("answers KEYVEND_AWS_ACCESS_DENIED when the role's trust policy refuses session tags", async () => {
    const err = await rejection(issuer({ roleArn: untaggableRole.arn }).issue(requestFor('d-ar5')));
    expect(err.code).toBe('KEYVEND_AWS_ACCESS_DENIED');
    expect(err.message).toContain('sts:AssumeRole');
  });

  it('refuses a device attribute that breaks the tag rules before calling STS', async () => {
    const err = await rejection(
      issuer({ sessionTags: { name: '${attr:name}' } }).issue(
        requestFor('d-ar6', { name: 'Robert"); DROP' }),
      ),
    );
    expect(err.code).toBe('KEYVEND_SESSION_TAGS_INVALID');
    expect(err.statusCode).toBe(403);
    expect(aws.control.stsCallCount()).toBe(0);
  });

  it("explains a maxSessionDuration longer than the role's", async () => {
    const err = await rejection(
      issuer({ maxSessionDuration: 7200 }).issue(
        requestFor('d-ar7', {}, { durationSeconds: 7200 }),
      ),
    );
    expect(err.code).toBe('KEYVEND_AWS_ERROR');
    expect(err.message).toMatch(/maxSessionDuration/);
  });

  it('answers KEYVEND_POLICY_REJECTED naming the template for a policy STS refuses', async () => {
    const err = await rejection(
      issuer().issue(requestFor('d-ar8', {}, { policy: '{"Version":"2012-10-17","Statement":7}' })),
    );
    expect(err.code).toBe('KEYVEND_POLICY_REJECTED');
    expect(err.message).toContain(TEMPLATE);
  });

  it('retries a throttled AssumeRole within the attempt budget', async () => {
    aws.control.throttleNext(2);
    const creds = await issuer().issue(requestFor('d-ar9'));
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(aws.control.stsCallCount('AssumeRole')).toBe(3);
  });
});

describe('createIssuer for assume-role', () => {
  it('refuses a transitive key that names no session tag, naming the key', () => {
    expect(() =>
      createIssuer(configFor({ transitiveTagKeys: ['keyvend-device', 'team'] }), {
        sts,
        profileName: 'mobile',
      }),
    ).toThrow(/profiles\.mobile\.issuer\.transitiveTagKeys\[1\]: "team" names no session tag/);
  });
});
