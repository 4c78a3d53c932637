import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  GetFederationTokenCommand,
  type STSClient,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalAws, RoleInfo, UserInfo } from '../../src/local-aws/index.js';
import {
  credsOf,
  KEYVEND_ROLE_ACTIONS,
  rejectionOf,
  startQuiet,
  stsFor,
  trustPolicy,
} from './fixtures.js';

const ACCOUNT = '123456789012';
let aws: LocalAws;
let alice: UserInfo;
let asAlice: STSClient;
let role: RoleInfo;

beforeAll(async () => {
  aws = await startQuiet({ accountId: ACCOUNT });
  alice = aws.control.createUser('alice');
  asAlice = stsFor(aws, aws.control.createAccessKey('alice'), { maxAttempts: 1 });
  role = aws.control.createRole('device-role', {
    path: '/keyvend/',
    trustPolicy: trustPolicy(alice.arn, KEYVEND_ROLE_ACTIONS),
    maxSessionDuration: 7200,
    tags: [{ key: 'team', value: 'mobile' }],
  });
});
afterAll(() => aws.close());
beforeEach(() => aws.control.reset());

describe('AssumeRole', () => {
  it('issues a session for the assumed role, dropping the role path from its ARN', async () => {
    aws.control.setClock('2026-05-01T12:00:00Z');
    const answer = await asAlice.send(
      new AssumeRoleCommand({
        RoleArn: role.arn,
        RoleSessionName: 'dev-1',
        SourceIdentity: 'device-1',
      }),
    );
    expect(role.arn).toBe(`arn:aws:iam::${ACCOUNT}:role/keyvend/device-role`);
    expect(role.roleId).toMatch(/^AROA[A-Z0-9]{17}$/);
    expect(answer.AssumedRoleUser).toEqual({
      Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/device-role/dev-1`,
      AssumedRoleId: `${role.roleId}:dev-1`,
    });
    expect(answer.SourceIdentity).toBe('device-1');
    expect(answer.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    expect(answer.Credentials?.Expiration?.toISOString()).toBe('2026-05-01T13:00:00.000Z');
    const who = await stsFor(aws, credsOf(answer)).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/device-role/dev-1`);
    expect(who.UserId).toBe(`${role.roleId}:dev-1`);
  });

  it('keeps assumed-role sessions away from GetFederationToken', async () => {
    const answer = await asAlice.send(
      new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 's1' }),
    );
    const error = await rejectionOf(
      stsFor(aws, credsOf(answer), { maxAttempts: 1 }).send(
        new GetFederationTokenCommand({ Name: 'x1' }),
      ),
    );
    expect(error.name).toBe('AccessDenied');
  });

  it('refuses federated credentials with AccessDenied', async () => {
    aws.control.createUser('fed-maker', {
      policies: [
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:*', Resource: '*' }] },
      ],
    });
    const maker = stsFor(aws, aws.control.createAccessKey('fed-maker'));
    const fed = await maker.send(new GetFederationTokenCommand({ Name: 'dev-fed' }));
    const error = await rejectionOf(
      stsFor(aws, credsOf(fed), { maxAttempts: 1 }).send(
        new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 'sess' }),
      ),
    );
    expect(error.name).toBe('AccessDenied');
    expect(error.$metadata?.httpStatusCode).toBe(403);
  });

  it('refuses a caller the trust policy does not name, a missing role, and root', async () => {
    aws.control.createUser('mallory');
    const mallory = stsFor(aws, aws.control.createAccessKey('mallory'), { maxAttempts: 1 });
    const untrusted = await rejectionOf(
      mallory.send(new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 's1' })),
    );
    expect(untrusted.name).toBe('AccessDenied');
    expect(untrusted.message).toBe(
      `User: arn:aws:iam::${ACCOUNT}:user/mallory is not authorized to perform: sts:AssumeRole on resource: ${role.arn}`,
    );
    const missingArn = `arn:aws:iam::${ACCOUNT}:role/nope`;
    const missing = await rejectionOf(
      asAlice.send(new AssumeRoleCommand({ RoleArn: missingArn, RoleSessionName: 's1' })),
    );
    expect(missing.name).toBe('AccessDenied');
    const root = stsFor(aws, aws.control.createRootAccessKey(), { maxAttempts: 1 });
    const rootError = await rejectionOf(
      root.send(new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 's1' })),
    );
    expect(rootError.name).toBe('AccessDenied');
  });

  it('needs an identity permission too when the trust policy names only the account', async () => {
    const accountRole = aws.control.createRole('account-trust', {
      trustPolicy: trustPolicy(`arn:aws:iam::${ACCOUNT}:root`),
    });
    aws.control.createUser('carol');
    const carol = stsFor(aws, aws.control.createAccessKey('carol'), { maxAttempts: 1 });
    expect(
      (
        await rejectionOf(
          carol.send(new AssumeRoleCommand({ RoleArn: accountRole.arn, RoleSessionName: 'ss' })),
        )
      ).name,
    ).toBe('AccessDenied');
    aws.control.putUserPolicy('carol', 'assume', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: accountRole.arn }],
    });
    await expect(
      carol.send(new AssumeRoleCommand({ RoleArn: accountRole.arn, RoleSessionName: 'ss' })),
    ).resolves.toBeTruthy();
  });

  it('checks the ExternalId the trust policy requires', async () => {
    const vendor = aws.control.createRole('vendor', {
      trustPolicy: trustPolicy(alice.arn, ['sts:AssumeRole'], {
        StringEquals: { 'sts:ExternalId': 'ext-123' },
      }),
    });
    const send = (ExternalId?: string) =>
      asAlice.send(
        new AssumeRoleCommand({ RoleArn: vendor.arn, RoleSessionName: 'ss', ExternalId }),
      );
    expect((await rejectionOf(send())).name).toBe('AccessDenied');
    expect((await rejectionOf(send('ext-999'))).name).toBe('AccessDenied');
    await expect(send('ext-123')).resolves.toBeTruthy();
  });

  it('needs sts:TagSession for tags and sts:SetSourceIdentity for a source identity', async () => {
    const plain = aws.control.createRole('plain', { trustPolicy: trustPolicy(alice.arn) });
    const tagged = await rejectionOf(
      asAlice.send(
        new AssumeRoleCommand({
          RoleArn: plain.arn,
          RoleSessionName: 'ss',
          Tags: [{ Key: 'k', Value: 'v' }],
        }),
      ),
    );
    expect(tagged.message).toContain('sts:TagSession');
    const sourced = await rejectionOf(
      asAlice.send(
        new AssumeRoleCommand({ RoleArn: plain.arn, RoleSessionName: 'ss', SourceIdentity: 'me' }),
      ),
    );
    expect(sourced.message).toContain('sts:SetSourceIdentity');
  });

  it("refuses DurationSeconds above the role's MaxSessionDuration", async () => {
    await expect(
      asAlice.send(
        new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 'ss', DurationSeconds: 7200 }),
      ),
    ).resolves.toBeTruthy();
    const error = await rejectionOf(
      asAlice.send(
        new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 'ss', DurationSeconds: 7201 }),
      ),
    );
    expect(error.name).toBe('ValidationError');
    expect(error.message).toBe(
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
  });

  it('limits role chaining to one hour and carries transitive tags and the source identity', async () => {
    const second = aws.control.createRole('second', {
      trustPolicy: trustPolicy(`arn:aws:iam::${ACCOUNT}:role/keyvend/device-role`, [
        'sts:AssumeRole',
        'sts:TagSession',
      ]),
      maxSessionDuration: 43200,
    });
    aws.control.createRole('unused', { trustPolicy: trustPolicy(alice.arn) });
    const first = await asAlice.send(
      new AssumeRoleCommand({
        RoleArn: role.arn,
        RoleSessionName: 'hop1',
        SourceIdentity: 'device-9',
        Tags: [
          { Key: 'keyvend-device', Value: 'd9' },
          { Key: 'local', Value: 'x' },
        ],
        TransitiveTagKeys: ['keyvend-device'],
      }),
    );
    const chained = stsFor(aws, credsOf(first), { maxAttempts: 1 });
    const tooLong = await rejectionOf(
      chained.send(
        new AssumeRoleCommand({
          RoleArn: second.arn,
          RoleSessionName: 'hop2',
          DurationSeconds: 3601,
        }),
      ),
    );
    expect(tooLong.name).toBe('ValidationError');
    expect(tooLong.message).toContain('1 hour session limit for roles assumed by role chaining');
    const hop2 = await chained.send(
      new AssumeRoleCommand({ RoleArn: second.arn, RoleSessionName: 'hop2' }),
    );
    expect(hop2.SourceIdentity).toBe('device-9');
    const session = aws.control
      .sessions()
      .find((s) => s.accessKeyId === hop2.Credentials?.AccessKeyId);
    expect(session?.tags).toEqual([{ key: 'keyvend-device', value: 'd9' }]);
    expect(session?.transitiveTagKeys).toEqual(['keyvend-device']);
    const changed = await rejectionOf(
      chained.send(
        new AssumeRoleCommand({
          RoleArn: second.arn,
          RoleSessionName: 'hop3',
          SourceIdentity: 'other',
        }),
      ),
    );
    expect(changed.name).toBe('AccessDenied');
  });

  it.each([
    [
      { RoleArn: 'short', RoleSessionName: 'ok' },
      "Value 'short' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20",
    ],
    [
      { RoleSessionName: 'ok' },
      "Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
    ],
    [
      { RoleArn: 'arn:aws:iam::123456789012:role/x', RoleSessionName: 'x'.repeat(65) },
      "at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64",
    ],
    [
      { RoleArn: 'arn:aws:iam::123456789012:role/x', RoleSessionName: 'a b' },
      "Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
    ],
    [
      {
        RoleArn: 'arn:aws:iam::123456789012:role/x',
        RoleSessionName: 'ok',
        DurationSeconds: 43201,
      },
      "Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200",
    ],
    [
      { RoleArn: 'arn:aws:iam::123456789012:role/x', RoleSessionName: 'ok', ExternalId: 'x' },
      "Value 'x' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2",
    ],
    [
      {
        RoleArn: 'arn:aws:iam::123456789012:role/x',
        RoleSessionName: 'ok',
        SerialNumber: 'arn:aws:iam::123456789012:mfa/a',
        TokenCode: '12a',
      },
      "Value '12a' at 'tokenCode' failed to satisfy constraint: Member must have length greater than or equal to 6",
    ],
    [
      { RoleArn: 'arn:aws:iam::123456789012:role/x', RoleSessionName: 'ok', SourceIdentity: 'a' },
      "Value 'a' at 'sourceIdentity' failed to satisfy constraint: Member must have length greater than or equal to 2",
    ],
  ])('answers ValidationError for %j', async (input, expected) => {
    const error = await rejectionOf(asAlice.send(new AssumeRoleCommand(input as never)));
    expect(error.name).toBe('ValidationError');
    expect(error.message).toContain(expected);
  });

  it('applies the session-policy checks of GetFederationToken', async () => {
    const malformed = await rejectionOf(
      asAlice.send(
        new AssumeRoleCommand({
          RoleArn: role.arn,
          RoleSessionName: 'ss',
          Policy: '{"Statement":[]}',
        }),
      ),
    );
    expect(malformed.name).toBe('MalformedPolicyDocumentException');
    aws.control.forcePackedPolicyTooLarge(true);
    const packed = await rejectionOf(
      asAlice.send(new AssumeRoleCommand({ RoleArn: role.arn, RoleSessionName: 'ss' })),
    );
    expect(packed.name).toBe('PackedPolicyTooLargeException');
  });
});
