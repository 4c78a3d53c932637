import { AssumeRoleCommand, GetFederationTokenCommand, type STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../src/local-aws/index.js';
import { credsOf, startQuiet, stsFor } from './fixtures.js';

const ACCOUNT = '123456789012';
let aws: LocalAws;
let vendor: STSClient;

const devicePrefixPolicy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::bucket/devices/${aws:userid}/*',
    },
  ],
});

beforeAll(async () => {
  aws = await startQuiet({ accountId: ACCOUNT });
  // The vending identity itself must hold every right it delegates: sessions get the intersection.
  aws.control.createUser('vendor', {
    policies: [
      {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['sts:GetFederationToken', 'sts:TagSession', 'sts:AssumeRole'],
            Resource: '*',
          },
          { Effect: 'Allow', Action: 's3:*', Resource: '*' },
        ],
      },
    ],
  });
  vendor = stsFor(aws, aws.control.createAccessKey('vendor'));
});
afterAll(() => aws.close());

const decision = async (accessKeyId: string, action: string, resource: string) =>
  (await aws.control.authorize({ accessKeyId, action, resource })).decision;

describe('authorize for a federation token', () => {
  it('allows its own ${aws:userid} prefix only, and nothing the session policy leaves out', async () => {
    const answer = await vendor.send(
      new GetFederationTokenCommand({ Name: 'dev-1', Policy: devicePrefixPolicy }),
    );
    const id = credsOf(answer).accessKeyId;
    expect(
      await decision(id, 's3:GetObject', `arn:aws:s3:::bucket/devices/${ACCOUNT}:dev-1/photo.jpg`),
    ).toBe('Allowed');
    expect(
      await decision(id, 's3:GetObject', `arn:aws:s3:::bucket/devices/${ACCOUNT}:dev-2/photo.jpg`),
    ).toBe('ImplicitlyDenied');
    expect(await decision(id, 's3:DeleteBucket', 'arn:aws:s3:::bucket')).toBe('ImplicitlyDenied');
    const result = await aws.control.authorize({
      accessKeyId: id,
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::x/y',
    });
    expect(result).toMatchObject({
      principalArn: `arn:aws:sts::${ACCOUNT}:federated-user/dev-1`,
      principalType: 'FederatedUser',
      expired: false,
    });
    expect(result.principalContext['aws:userid']).toBe(`${ACCOUNT}:dev-1`);
    expect(result.principalContext['aws:username']).toBeUndefined();
  });

  it('grants nothing when no session policy was passed', async () => {
    const answer = await vendor.send(new GetFederationTokenCommand({ Name: 'dev-bare' }));
    expect(
      await decision(credsOf(answer).accessKeyId, 's3:GetObject', 'arn:aws:s3:::bucket/a'),
    ).toBe('ImplicitlyDenied');
  });

  it("never widens the IAM user's own rights", async () => {
    aws.control.createUser('narrow', {
      policies: [
        {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'sts:GetFederationToken', Resource: '*' },
            { Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' },
          ],
        },
      ],
    });
    const narrow = stsFor(aws, aws.control.createAccessKey('narrow'));
    const answer = await narrow.send(
      new GetFederationTokenCommand({ Name: 'dev-n', Policy: devicePrefixPolicy }),
    );
    expect(
      await decision(
        credsOf(answer).accessKeyId,
        's3:GetObject',
        `arn:aws:s3:::bucket/devices/${ACCOUNT}:dev-n/a`,
      ),
    ).toBe('ImplicitlyDenied');
  });

  it('reports an explicit Deny in the session policy', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:*', Resource: '*' },
        { Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' },
      ],
    });
    const answer = await vendor.send(
      new GetFederationTokenCommand({ Name: 'dev-d', Policy: policy }),
    );
    expect(
      await decision(credsOf(answer).accessKeyId, 's3:DeleteObject', 'arn:aws:s3:::bucket/a'),
    ).toBe('ExplicitlyDenied');
  });

  it('denies everything once the credentials have expired', async () => {
    aws.control.setClock('2026-05-01T00:00:00Z');
    const answer = await vendor.send(
      new GetFederationTokenCommand({
        Name: 'dev-e',
        Policy: devicePrefixPolicy,
        DurationSeconds: 900,
      }),
    );
    aws.control.advanceClock(901_000);
    const result = await aws.control.authorize({
      accessKeyId: credsOf(answer).accessKeyId,
      action: 's3:GetObject',
      resource: `arn:aws:s3:::bucket/devices/${ACCOUNT}:dev-e/a`,
    });
    expect(result).toMatchObject({ decision: 'ImplicitlyDenied', expired: true });
    aws.control.setClock(null);
  });
});

describe('authorize for an assumed role', () => {
  it('resolves ${aws:PrincipalTag/keyvend-device} from the session tags', async () => {
    const role = aws.control.createRole('device-abac', {
      trustPolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/vendor` },
            Action: ['sts:AssumeRole', 'sts:TagSession'],
          },
        ],
      },
      policies: [
        {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 's3:GetObject',
              Resource: 'arn:aws:s3:::bucket/devices/${aws:PrincipalTag/keyvend-device}/*',
            },
          ],
        },
      ],
    });
    const answer = await vendor.send(
      new AssumeRoleCommand({
        RoleArn: role.arn,
        RoleSessionName: 'dev-7',
        Tags: [{ Key: 'keyvend-device', Value: 'dev-7' }],
      }),
    );
    const id = credsOf(answer).accessKeyId;
    expect(await decision(id, 's3:GetObject', 'arn:aws:s3:::bucket/devices/dev-7/a.jpg')).toBe(
      'Allowed',
    );
    expect(await decision(id, 's3:GetObject', 'arn:aws:s3:::bucket/devices/dev-8/a.jpg')).toBe(
      'ImplicitlyDenied',
    );
    expect(await decision(id, 's3:DeleteBucket', 'arn:aws:s3:::bucket')).toBe('ImplicitlyDenied');
    const result = await aws.control.authorize({
      accessKeyId: id,
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::b/k',
    });
    expect(result.principalType).toBe('AssumedRole');
    expect(result.principalContext['aws:userid']).toBe(`${answer.AssumedRoleUser?.AssumedRoleId}`);
  });

  it('answers over POST /_admin/authorize', async () => {
    const answer = await vendor.send(
      new GetFederationTokenCommand({ Name: 'dev-h', Policy: devicePrefixPolicy }),
    );
    const response = await fetch(`${aws.url}/_admin/authorize`, {
      method: 'POST',
      body: JSON.stringify({
        accessKeyId: credsOf(answer).accessKeyId,
        action: 's3:GetObject',
        resource: `arn:aws:s3:::bucket/devices/${ACCOUNT}:dev-h/a`,
      }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { result: { decision: string } }).result.decision).toBe(
      'Allowed',
    );
    const unknown = await fetch(`${aws.url}/_admin/authorize`, {
      method: 'POST',
      body: JSON.stringify({
        accessKeyId: 'ASIANOPE',
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::b/k',
      }),
    });
    expect(unknown.status).toBe(403);
  });
});
