/**
 * What vended credentials may do, for each issuer, end to end: the repository's own policy
 * templates rendered by keyvend's renderer, the issuer calling the local STS endpoint through
 * the real SDK (web-identity: STS fetching keyvend's discovery document and JWKS from the real
 * OIDC route plugin), then the endpoint's `authorize` evaluating the session. Each device may
 * read its own S3 prefix, not another device's, and nothing outside the policy.
 */
import { join } from 'node:path';
import type { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuerConfig } from '../../src/config/issuer-schemas.js';
import { createStsClient } from '../../src/issuers/aws-clients.js';
import type { Issuer } from '../../src/issuers/issuer.js';
import { createIssuer } from '../../src/issuers/registry.js';
import { type LocalAws, type PolicyDocument, startLocalAws } from '../../src/local-aws/index.js';
import { principalNameFor } from '../../src/policy/principal-name.js';
import { renderPolicy } from '../../src/policy/render.js';
import { loadTemplates, type PolicyTemplate } from '../../src/policy/template.js';
import { newDeviceId } from '../../src/stores/ids.js';
import { KEYVEND_ROLE_ACTIONS, trustPolicy } from '../local-aws/fixtures.js';
import { REPO_ROOT } from '../support/paths.js';
import {
  awsConfig,
  device,
  issueRequest,
  noWait,
  type OidcProviderServer,
  startOidcProvider,
} from './fixtures.js';

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

let aws: LocalAws;
let sts: STSClient;
let templates: Map<string, PolicyTemplate>;
let oidc: OidcProviderServer;
const issuers = new Map<string, { issuer: Issuer; template: string }>();

beforeAll(async () => {
  aws = await startLocalAws({ log: () => {} });
  templates = await loadTemplates(join(REPO_ROOT, 'policies'));
  const identity = aws.control.bootstrapKeyvendIdentity();
  // The IAM user's own rights bound a federation token: give it the bucket.
  aws.control.putUserPolicy(identity.userName, 'app-data', S3_ALL);
  sts = createStsClient(awsConfig(), { endpoint: aws.url, credentials: identity });

  // keyvend as an OIDC provider on a loopback port, trusted by a role.
  oidc = await startOidcProvider();
  const { keyRing, url: issuerUrl } = oidc;
  const provider = aws.control.createOpenIdConnectProvider({
    url: issuerUrl,
    clientIds: [AUDIENCE],
  });
  const hostPath = issuerUrl.replace('http://', '');

  const assumeRole = aws.control.createRole('keyvend-devices', {
    trustPolicy: trustPolicy(identity.arn, KEYVEND_ROLE_ACTIONS),
    policies: [S3_ALL],
  });
  const webRole = aws.control.createRole('keyvend-web-devices', {
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
    policies: [S3_ALL],
  });

  const configs: [string, IssuerConfig, string][] = [
    ['federation-token', { type: 'federation-token' }, 'device-s3-prefix.json'],
    [
      'assume-role',
      {
        type: 'assume-role',
        roleArn: assumeRole.arn,
        maxSessionDuration: 3600,
        sessionTags: {},
        transitiveTagKeys: [],
        sourceIdentity: true,
      },
      'abac-s3-prefix.json',
    ],
    [
      'web-identity',
      {
        type: 'web-identity',
        roleArn: webRole.arn,
        audience: AUDIENCE,
        mode: 'server',
        tokenTtlSeconds: 300,
        maxSessionDuration: 3600,
        claimTags: {},
        transitiveTagKeys: [],
      },
      'abac-s3-prefix.json',
    ],
  ];
  for (const [name, config, template] of configs) {
    const issuer = createIssuer(config, {
      sts,
      resilience: noWait,
      oidc: { keyRing, issuerUrl: () => issuerUrl },
    });
    issuers.set(name, { issuer, template });
  }
});
afterAll(async () => {
  sts.destroy();
  await oidc.close();
  await aws.close();
});

/** Vends for a fresh device; returns its credentials and the S3 prefix its policy names. */
async function vend(issuerName: string) {
  const entry = issuers.get(issuerName);
  if (entry === undefined) throw new Error(issuerName);
  const template = templates.get(entry.template);
  if (template === undefined) throw new Error(entry.template);
  const dev = device(newDeviceId());
  const principalName = principalNameFor(entry.issuer.type, dev.id);
  const policy = renderPolicy(template, {
    principal: principalName,
    device: dev.id,
    profile: dev.profile,
    account: aws.accountId,
    region: 'us-east-1',
    user: null,
    params: { bucket: BUCKET },
  });
  const request = issueRequest(dev, principalName, { policy, templateName: template.name });
  const creds = await entry.issuer.issue(request);
  // The prefix each template keys on: aws:userid (federation) or the keyvend-device tag.
  const prefix = issuerName === 'federation-token' ? `${aws.accountId}:${principalName}` : dev.id;
  return { creds, prefix };
}

const may = async (accessKeyId: string, action: string, key: string) =>
  (await aws.control.authorize({ accessKeyId, action, resource: `arn:aws:s3:::${BUCKET}/${key}` }))
    .decision;

describe.each(['federation-token', 'assume-role', 'web-identity'])('%s credentials', (name) => {
  it("may read and write the device's own prefix", async () => {
    const { creds, prefix } = await vend(name);
    expect(await may(creds.accessKeyId, 's3:GetObject', `devices/${prefix}/photo.jpg`)).toBe(
      'Allowed',
    );
    expect(await may(creds.accessKeyId, 's3:PutObject', `devices/${prefix}/new.jpg`)).toBe(
      'Allowed',
    );
  });

  it("are denied another device's prefix", async () => {
    const mine = await vend(name);
    const theirs = await vend(name);
    expect(
      await may(mine.creds.accessKeyId, 's3:GetObject', `devices/${theirs.prefix}/photo.jpg`),
    ).not.toBe('Allowed');
    expect(
      await may(theirs.creds.accessKeyId, 's3:GetObject', `devices/${theirs.prefix}/photo.jpg`),
    ).toBe('Allowed');
  });

  it('are denied an action outside the policy, even on their own prefix', async () => {
    const { creds, prefix } = await vend(name);
    expect(await may(creds.accessKeyId, 's3:PutObjectAcl', `devices/${prefix}/photo.jpg`)).not.toBe(
      'Allowed',
    );
    expect(await may(creds.accessKeyId, 's3:DeleteBucket', '')).not.toBe('Allowed');
  });
});
