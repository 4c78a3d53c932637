import { GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetFederationTokenCommand } from '@aws-sdk/client-sts';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalAws, signRequest } from '../../src/local-aws/index.js';
import { type Creds, credsOf, REGION, rejectionOf, startQuiet, stsFor } from './fixtures.js';

let aws: LocalAws;
let key: Creds;

beforeAll(async () => {
  aws = await startQuiet();
  key = aws.control.bootstrapKeyvendIdentity();
  aws.control.createRole('fuzz-role', {
    trustPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::000000000000:user/keyvend' },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
        },
      ],
    },
  });
});
afterAll(() => aws.close());

const PARAMS = [
  'Name',
  'Policy',
  'DurationSeconds',
  'Tags',
  'Tags.member.1.Key',
  'Tags.member.1.Value',
  'Tags.member.2.Key',
  'PolicyArns.member.1.arn',
  'RoleArn',
  'RoleSessionName',
  'WebIdentityToken',
  'TransitiveTagKeys.member.1',
  'ExternalId',
  'SourceIdentity',
];
const ACTIONS = [
  'GetFederationToken',
  'AssumeRole',
  'AssumeRoleWithWebIdentity',
  'GetCallerIdentity',
];

describe('hostile input', () => {
  it('never answers a 5xx to a signed request with arbitrary parameters', async () => {
    const host = new URL(aws.url).host;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ACTIONS),
        fc.dictionary(
          fc.constantFrom(...PARAMS),
          fc.oneof(
            fc.string(),
            fc.string({ unit: 'grapheme' }),
            fc.constant('arn:aws:iam::000000000000:role/fuzz-role'),
            fc.constant(
              '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
            ),
          ),
        ),
        async (action, params) => {
          const body = new URLSearchParams({
            Action: action,
            Version: '2011-06-15',
            ...params,
          }).toString();
          const headers = signRequest(
            {
              method: 'POST',
              url: '/',
              headers: { host, 'content-type': 'application/x-www-form-urlencoded' },
              body,
            },
            key,
            { region: REGION, service: 'sts' },
          );
          const { host: _h, ...sendable } = headers;
          const response = await fetch(`${aws.url}/`, { method: 'POST', headers: sendable, body });
          const text = await response.text();
          expect(response.status).toBeLessThan(500);
          expect(text.startsWith('<?xml')).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('the IAM service', () => {
  const iamFor = (creds: Creds) =>
    new IAMClient({ region: 'us-east-1', endpoint: aws.url, credentials: creds, maxAttempts: 1 });

  it('refuses federation-token credentials with InvalidClientTokenId', async () => {
    const fed = await stsFor(aws, key).send(new GetFederationTokenCommand({ Name: 'dev-iam' }));
    const error = await rejectionOf(iamFor(credsOf(fed)).send(new GetUserCommand({})));
    expect(error.name).toBe('InvalidClientTokenId');
    expect(error.$metadata?.httpStatusCode).toBe(403);
  });

  it('authenticates IAM requests with the iam scope and answers InvalidAction until IAM operations exist', async () => {
    const error = await rejectionOf(iamFor(key).send(new GetUserCommand({})));
    expect(error.name).toBe('InvalidAction');
    const record = aws.control.requests().at(-1);
    expect(record).toMatchObject({
      service: 'iam',
      signingService: 'iam',
      signingRegion: 'us-east-1',
    });
  });
});
