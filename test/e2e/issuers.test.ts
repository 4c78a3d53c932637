/**
 * Every issuer end to end through keyvend's own HTTP API and the real AWS SDK: register →
 * POST /v1/credentials → the local AWS endpoint's authorization check says the device may use
 * its own S3 prefix, not another device's, and nothing outside the policy. web-identity runs
 * both ways: keyvend calling AssumeRoleWithWebIdentity itself (STS fetching keyvend's own
 * discovery document and JWKS over HTTP), and handing the token to the device to call STS.
 */
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../src/local-aws/index.js';
import { KEYVEND_ROLE_ACTIONS, trustPolicy } from '../local-aws/fixtures.js';
import { type Keyvend, postJson, registerDevice, startKeyvend } from '../support/harness.js';

const ACCOUNT = '123456789012';
const BUCKET = 'app-data';
const AUDIENCE = 'keyvend-devices';
const S3_ALL: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 's3:*',
      Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
    },
  ],
};
const base = { validators: [{ type: 'none' }], params: { bucket: BUCKET } };
const web = {
  type: 'web-identity',
  roleArn: `arn:aws:iam::${ACCOUNT}:role/keyvend-web`,
  audience: AUDIENCE,
};

let kv: Keyvend;
beforeAll(async () => {
  kv = await startKeyvend({
    config: {
      profiles: {
        fed: { ...base, issuer: { type: 'federation-token' }, policy: 'device-s3-prefix.json' },
        role: {
          ...base,
          issuer: { type: 'assume-role', roleArn: `arn:aws:iam::${ACCOUNT}:role/keyvend-role` },
          policy: 'abac-s3-prefix.json',
        },
        web: { ...base, issuer: { ...web, mode: 'server' }, policy: 'abac-s3-prefix.json' },
        webclient: { ...base, issuer: { ...web, mode: 'client' }, policy: 'abac-s3-prefix.json' },
      },
    },
  });
  const control = kv.localAws.control;
  const identity = control.bootstrapKeyvendIdentity();
  // A federation token can do at most what keyvend's own IAM user may: give it the bucket,
  // and the right to assume the role.
  control.putUserPolicy(identity.userName, 'app-data', S3_ALL);
  control.putUserPolicy(identity.userName, 'assume', {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: KEYVEND_ROLE_ACTIONS,
        Resource: `arn:aws:iam::${ACCOUNT}:role/keyvend-role`,
      },
    ],
  });
  control.createRole('keyvend-role', {
    trustPolicy: trustPolicy(identity.arn, KEYVEND_ROLE_ACTIONS),
    policies: [S3_ALL],
  });
  const provider = control.createOpenIdConnectProvider({ url: kv.url, clientIds: [AUDIENCE] });
  control.createRole('keyvend-web', {
    trustPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: provider.arn },
          Action: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'],
          Condition: { StringEquals: { [`${kv.url.replace('http://', '')}:aud`]: AUDIENCE } },
        },
      ],
    },
    policies: [S3_ALL],
  });
});
afterAll(() => kv.close());

async function vend(profile: string) {
  const { deviceId, token } = await registerDevice(kv, profile);
  const res = await postJson(`${kv.url}/v1/credentials`, {}, { authorization: `Bearer ${token}` });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  // device-s3-prefix keys on aws:userid (ACCOUNT:principal); the ABAC template on the tag.
  const prefix = profile === 'fed' ? `${ACCOUNT}:kv-${deviceId}` : deviceId;
  return { accessKeyId: String(res.body.AccessKeyId), prefix, body: res.body };
}

const may = async (accessKeyId: string, action: string, key: string) =>
  (
    await kv.localAws.control.authorize({
      accessKeyId,
      action,
      resource: `arn:aws:s3:::${BUCKET}/${key}`,
    })
  ).decision;

describe.each([
  ['fed', 'federation-token'],
  ['role', 'assume-role'],
  ['web', 'web-identity (server mode)'],
])('%s profile (%s)', (profile) => {
  it("vends credentials for the device's own prefix and nothing else", async () => {
    const mine = await vend(profile);
    const theirs = await vend(profile);
    expect(await may(mine.accessKeyId, 's3:GetObject', `devices/${mine.prefix}/a.jpg`)).toBe(
      'Allowed',
    );
    expect(await may(mine.accessKeyId, 's3:PutObject', `devices/${mine.prefix}/b.jpg`)).toBe(
      'Allowed',
    );
    expect(await may(mine.accessKeyId, 's3:GetObject', `devices/${theirs.prefix}/a.jpg`)).not.toBe(
      'Allowed',
    );
    expect(await may(mine.accessKeyId, 's3:DeleteBucket', '')).not.toBe('Allowed');
  });
});

describe('web-identity in client mode', () => {
  it('hands the device a token it trades with STS itself, for its own prefix only', async () => {
    const { deviceId, token } = await registerDevice(kv, 'webclient');
    const res = await postJson(
      `${kv.url}/v1/credentials`,
      {},
      { authorization: `Bearer ${token}` },
    );
    expect(res.status).toBe(200);
    expect(res.body.AccessKeyId).toBeUndefined();
    expect(res.body.RoleArn).toBe(web.roleArn);
    const sts = new STSClient({ region: 'us-east-1', endpoint: kv.localAws.url });
    const answer = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: String(res.body.RoleArn),
        RoleSessionName: String(res.body.RoleSessionName),
        WebIdentityToken: String(res.body.WebIdentityToken),
        DurationSeconds: Number(res.body.DurationSeconds),
        ...(res.body.Policy ? { Policy: String(res.body.Policy) } : {}),
      }),
    );
    sts.destroy();
    const accessKeyId = answer.Credentials?.AccessKeyId ?? '';
    expect(answer.SubjectFromWebIdentityToken).toBe(String(res.body.RoleSessionName));
    expect(await may(accessKeyId, 's3:GetObject', `devices/${deviceId}/a.jpg`)).toBe('Allowed');
    expect(await may(accessKeyId, 's3:GetObject', 'devices/d-someoneelse/a.jpg')).not.toBe(
      'Allowed',
    );
  });

  it('refuses the container-credentials endpoint, which can only hand out credentials', async () => {
    const { token } = await registerDevice(kv, 'webclient');
    const res = await fetch(`${kv.url}/v1/container-credentials`, {
      headers: { authorization: token },
    });
    expect(res.status).toBe(409);
  });

  it("publishes keyvend's OpenID configuration and ID-token keys", async () => {
    const discovery = (await (
      await fetch(`${kv.url}/.well-known/openid-configuration`)
    ).json()) as {
      issuer: string;
      jwks_uri: string;
      id_token_signing_alg_values_supported: string[];
    };
    expect(discovery.issuer).toBe(kv.url);
    expect(discovery.id_token_signing_alg_values_supported).toContain('RS256');
    const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: { kty: string }[] };
    expect(jwks.keys[0]?.kty).toBe('RSA');
  });
});
