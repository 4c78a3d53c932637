import {
  GetCallerIdentityCommand,
  GetFederationTokenCommand,
  type STSClient,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../src/local-aws/index.js';
import { credsOf, rejectionOf, S3_READ_POLICY, startQuiet, stsFor } from './fixtures.js';

let aws: LocalAws;
let keyvend: STSClient;
let keyvendArn: string;

beforeAll(async () => {
  aws = await startQuiet({ accountId: '123456789012' });
  const id = aws.control.bootstrapKeyvendIdentity();
  keyvendArn = id.arn;
  keyvend = stsFor(aws, id, { maxAttempts: 1 });
});
afterAll(() => aws.close());
beforeEach(() => aws.control.reset());

describe('GetFederationToken happy path', () => {
  it('issues ASIA credentials for the federated user with the default 12 hours', async () => {
    const now = new Date('2026-05-01T12:00:00.000Z');
    aws.control.setClock(now);
    const answer = await keyvend.send(
      new GetFederationTokenCommand({ Name: 'dev-42', Policy: S3_READ_POLICY }),
    );
    const c = answer.Credentials;
    expect(c?.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(c?.SecretAccessKey).toHaveLength(40);
    expect(c?.SessionToken).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(c?.Expiration?.toISOString()).toBe('2026-05-02T00:00:00.000Z');
    expect(answer.FederatedUser).toEqual({
      Arn: 'arn:aws:sts::123456789012:federated-user/dev-42',
      FederatedUserId: '123456789012:dev-42',
    });
    expect(answer.PackedPolicySize).toBeGreaterThan(0);
    expect(answer.PackedPolicySize).toBeLessThan(100);
  });

  it('records the session policy exactly as sent', async () => {
    const answer = await keyvend.send(
      new GetFederationTokenCommand({
        Name: 'dev-43',
        Policy: S3_READ_POLICY,
        DurationSeconds: 900,
      }),
    );
    const session = aws.control
      .sessions()
      .find((s) => s.accessKeyId === answer.Credentials?.AccessKeyId);
    expect(session).toMatchObject({
      kind: 'federated-user',
      principalArn: 'arn:aws:sts::123456789012:federated-user/dev-43',
      principalId: '123456789012:dev-43',
      policy: S3_READ_POLICY,
      parentUserName: 'keyvend',
    });
    expect(session?.expiration.getTime()).toBe(answer.Credentials?.Expiration?.getTime());
  });

  it('varies the session token length between issuances', async () => {
    const lengths = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const answer = await keyvend.send(new GetFederationTokenCommand({ Name: `dev-v${i}` }));
      lengths.add(answer.Credentials?.SessionToken?.length ?? 0);
    }
    expect(lengths.size).toBeGreaterThan(1);
  });

  it('accepts an empty Tags list and merges session tags over the user tags', async () => {
    await keyvend.send(new GetFederationTokenCommand({ Name: 'dev-empty-tags', Tags: [] }));
    const tagged = await keyvend.send(
      new GetFederationTokenCommand({
        Name: 'dev-tags',
        Tags: [{ Key: 'keyvend-device', Value: 'd1' }],
      }),
    );
    const session = aws.control
      .sessions()
      .find((s) => s.accessKeyId === tagged.Credentials?.AccessKeyId);
    expect(session?.tags).toEqual([{ key: 'keyvend-device', value: 'd1' }]);
    expect(aws.control.requests().at(-2)?.params.Tags).toBe('');
  });

  it('lets the vended credentials call GetCallerIdentity as the federated user', async () => {
    const answer = await keyvend.send(new GetFederationTokenCommand({ Name: 'dev-who' }));
    const who = await stsFor(aws, credsOf(answer)).send(new GetCallerIdentityCommand({}));
    expect(who).toMatchObject({
      Arn: 'arn:aws:sts::123456789012:federated-user/dev-who',
      UserId: '123456789012:dev-who',
      Account: '123456789012',
    });
  });

  it('caps a root caller at 3600 seconds instead of refusing', async () => {
    aws.control.setClock('2026-05-01T12:00:00Z');
    const root = stsFor(aws, aws.control.createRootAccessKey());
    const answer = await root.send(
      new GetFederationTokenCommand({ Name: 'root-fed', DurationSeconds: 129600 }),
    );
    expect(answer.Credentials?.Expiration?.toISOString()).toBe('2026-05-01T13:00:00.000Z');
  });
});

describe('GetFederationToken refusals', () => {
  it('refuses session credentials with AccessDenied', async () => {
    const answer = await keyvend.send(new GetFederationTokenCommand({ Name: 'dev-s' }));
    const error = await rejectionOf(
      stsFor(aws, credsOf(answer), { maxAttempts: 1 }).send(
        new GetFederationTokenCommand({ Name: 'again' }),
      ),
    );
    expect(error.name).toBe('AccessDenied');
    expect(error.message).toBe('Cannot call GetFederationToken with session credentials');
    expect(error.$metadata?.httpStatusCode).toBe(403);
  });

  it.each([
    [
      { Name: 'a' },
      "Value 'a' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 2",
    ],
    [
      { Name: 'x'.repeat(33) },
      `Value '${'x'.repeat(33)}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 32`,
    ],
    [
      { Name: 'has space' },
      "Value 'has space' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
    ],
    [
      { Name: 'dev', DurationSeconds: 899 },
      "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
    ],
    [
      { Name: 'dev', DurationSeconds: 129601 },
      "Value '129601' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600",
    ],
    [
      { Name: 'dev', Policy: '' },
      "Value '' at 'policy' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ],
    [
      { Name: 'dev', Policy: `{"a":"${'x'.repeat(2050)}"}` },
      "at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048",
    ],
    [
      { Name: 'dev', Policy: '{"Version":"2012-10-17","x":"\u0101"}' },
      "at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
    ],
    [
      { Name: 'dev', Tags: [{ Key: '', Value: 'v' }] },
      "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ],
    [
      { Name: 'dev', Tags: [{ Key: 'k'.repeat(129), Value: 'v' }] },
      "at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128",
    ],
    [
      { Name: 'dev', Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] },
      "at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256",
    ],
    [
      { Name: 'dev', Tags: [{ Key: 'k', Value: 'a;b' }] },
      "Value 'a;b' at 'tags.1.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern",
    ],
    [
      { Name: 'dev', Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) },
      "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
    ],
    [
      {
        Name: 'dev',
        PolicyArns: Array.from({ length: 11 }, (_, i) => ({
          arn: `arn:aws:iam::123456789012:policy/p${i}`,
        })),
      },
      "at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10",
    ],
    [
      { Name: 'dev', PolicyArns: [{ arn: 'arn:short' }] },
      "Value 'arn:short' at 'policyArns.1.member.arn' failed to satisfy constraint: Member must have length greater than or equal to 20",
    ],
    [{}, "Value null at 'name' failed to satisfy constraint: Member must not be null"],
  ])('answers ValidationError for %j', async (input, expected) => {
    const error = await rejectionOf(keyvend.send(new GetFederationTokenCommand(input as never)));
    expect(error.name).toBe('ValidationError');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(error.message).toMatch(/^1 validation error detected: /);
    expect(error.message).toContain(expected);
  });

  it('reports every violation in one message', async () => {
    const error = await rejectionOf(
      keyvend.send(new GetFederationTokenCommand({ Name: 'x', DurationSeconds: 1, Policy: '' })),
    );
    expect(error.message).toBe(
      '3 validation errors detected: ' +
        "Value 'x' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 2; " +
        "Value '' at 'policy' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
        "Value '1' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
    );
  });

  it('refuses tag keys starting with aws: and keys duplicated ignoring case', async () => {
    const reserved = await rejectionOf(
      keyvend.send(
        new GetFederationTokenCommand({ Name: 'dev', Tags: [{ Key: 'aws:x', Value: 'v' }] }),
      ),
    );
    expect(reserved.name).toBe('ValidationError');
    const duplicate = await rejectionOf(
      keyvend.send(
        new GetFederationTokenCommand({
          Name: 'dev',
          Tags: [
            { Key: 'Device', Value: 'a' },
            { Key: 'device', Value: 'b' },
          ],
        }),
      ),
    );
    expect(duplicate.name).toBe('ValidationError');
    expect(duplicate.message).toContain('Tag keys are case insensitive');
  });

  it('checks syntax before authorisation', async () => {
    aws.control.createUser('nobody-syntax');
    const nobody = stsFor(aws, aws.control.createAccessKey('nobody-syntax'), { maxAttempts: 1 });
    const error = await rejectionOf(nobody.send(new GetFederationTokenCommand({ Name: 'x' })));
    expect(error.name).toBe('ValidationError');
  });

  it('refuses a caller without sts:GetFederationToken, naming caller and resource', async () => {
    const user = aws.control.createUser('nobody');
    const nobody = stsFor(aws, aws.control.createAccessKey('nobody'), { maxAttempts: 1 });
    const error = await rejectionOf(nobody.send(new GetFederationTokenCommand({ Name: 'dev-1' })));
    expect(error.name).toBe('AccessDenied');
    expect(error.$metadata?.httpStatusCode).toBe(403);
    expect(error.message).toMatch(
      new RegExp(
        `^User: ${user.arn} is not authorized to perform: sts:GetFederationToken on resource: ` +
          'arn:aws:sts::123456789012:federated-user/dev-1',
      ),
    );
  });

  it('needs sts:TagSession only when tags are sent', async () => {
    aws.control.createUser('no-tags', {
      policies: [
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'sts:GetFederationToken', Resource: '*' }],
        },
      ],
    });
    const client = stsFor(aws, aws.control.createAccessKey('no-tags'), { maxAttempts: 1 });
    await expect(
      client.send(new GetFederationTokenCommand({ Name: 'dev-1', Tags: [] })),
    ).resolves.toBeTruthy();
    const error = await rejectionOf(
      client.send(
        new GetFederationTokenCommand({ Name: 'dev-1', Tags: [{ Key: 'k', Value: 'v' }] }),
      ),
    );
    expect(error.name).toBe('AccessDenied');
    expect(error.message).toContain(
      'sts:TagSession on resource: arn:aws:sts::123456789012:federated-user/dev-1',
    );
  });

  it('lets an explicit Deny win over an Allow', async () => {
    aws.control.createUser('denied', {
      policies: [
        {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'sts:*', Resource: '*' },
            {
              Effect: 'Deny',
              Action: 'sts:GetFederationToken',
              Resource: 'arn:aws:sts::123456789012:federated-user/blocked-*',
            },
          ],
        },
      ],
    });
    const client = stsFor(aws, aws.control.createAccessKey('denied'), { maxAttempts: 1 });
    await expect(
      client.send(new GetFederationTokenCommand({ Name: 'open-1' })),
    ).resolves.toBeTruthy();
    const error = await rejectionOf(
      client.send(new GetFederationTokenCommand({ Name: 'blocked-1' })),
    );
    expect(error.name).toBe('AccessDenied');
  });

  it.each([
    ['{not json', 'The policy is not in the valid JSON format.'],
    [
      '{"Version":"2012-10-17","Statement":[{"Action":"s3:*","Resource":"*"}]}',
      'Syntax errors in policy.',
    ],
    [
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}',
      'Syntax errors in policy.',
    ],
    [
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}',
      'Syntax errors in policy.',
    ],
    [
      '{"Version":"2099-01-01","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
      'valid version',
    ],
    [
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}',
      'principal',
    ],
  ])('answers MalformedPolicyDocument for %s', async (policy, message) => {
    const error = await rejectionOf(
      keyvend.send(new GetFederationTokenCommand({ Name: 'dev', Policy: policy })),
    );
    expect(error.name).toBe('MalformedPolicyDocumentException');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(error.message).toContain(message);
  });

  it('answers MalformedPolicyDocument for a managed policy ARN that does not exist', async () => {
    const error = await rejectionOf(
      keyvend.send(
        new GetFederationTokenCommand({
          Name: 'dev',
          PolicyArns: [{ arn: 'arn:aws:iam::123456789012:policy/missing' }],
        }),
      ),
    );
    expect(error.name).toBe('MalformedPolicyDocumentException');
  });

  it('answers PackedPolicyTooLarge when forced and when the budget is exceeded', async () => {
    aws.control.forcePackedPolicyTooLarge(true);
    const forced = await rejectionOf(keyvend.send(new GetFederationTokenCommand({ Name: 'dev' })));
    expect(forced.name).toBe('PackedPolicyTooLargeException');
    expect(forced.message).toMatch(/^Packed policy consumes \d+% of allotted space/);
    aws.control.forcePackedPolicyTooLarge(false);
    aws.control.setPackedBudget(10);
    const over = await rejectionOf(
      keyvend.send(new GetFederationTokenCommand({ Name: 'dev', Policy: S3_READ_POLICY })),
    );
    expect(over.name).toBe('PackedPolicyTooLargeException');
  });

  it('answers RegionDisabledException for a disabled signing region', async () => {
    aws.control.setRegionDisabled('eu-west-1', true);
    const error = await rejectionOf(keyvend.send(new GetFederationTokenCommand({ Name: 'dev' })));
    expect(error.name).toBe('RegionDisabledException');
    expect(error.message).toContain('STS is not activated in this region for account:123456789012');
  });

  it('names the caller ARN in denials, never its secret', async () => {
    aws.control.createUser('quiet');
    const key = aws.control.createAccessKey('quiet');
    const error = await rejectionOf(
      stsFor(aws, key, { maxAttempts: 1 }).send(new GetFederationTokenCommand({ Name: 'dev' })),
    );
    expect(error.message).not.toContain(key.secretAccessKey);
    expect(keyvendArn).toBe('arn:aws:iam::123456789012:user/keyvend');
  });
});
