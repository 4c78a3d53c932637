import {
  GetCallerIdentityCommand,
  GetFederationTokenCommand,
  type STSClient,
} from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalAws } from '../../src/local-aws/index.js';
import { type Creds, credsOf, rejectionOf, startQuiet, stsFor } from './fixtures.js';

let aws: LocalAws;
let key: Creds;
let keyvend: STSClient;

beforeAll(async () => {
  aws = await startQuiet();
  key = aws.control.bootstrapKeyvendIdentity();
  keyvend = stsFor(aws, key, { maxAttempts: 1 });
});
afterAll(() => aws.close());
beforeEach(() => aws.control.reset());

describe('GetCallerIdentity', () => {
  it('answers for an IAM user, with its AIDA id and path in the ARN', async () => {
    const user = aws.control.createUser('bob', { path: '/division/app/' });
    const who = await stsFor(aws, aws.control.createAccessKey('bob')).send(
      new GetCallerIdentityCommand({}),
    );
    expect(who.UserId).toMatch(/^AIDA[A-Z0-9]{17}$/);
    expect(who.UserId).toBe(user.userId);
    expect(who.Arn).toBe('arn:aws:iam::000000000000:user/division/app/bob');
    expect(who.Account).toBe('000000000000');
  });

  it('answers for root', async () => {
    const who = await stsFor(aws, aws.control.createRootAccessKey()).send(
      new GetCallerIdentityCommand({}),
    );
    expect(who).toMatchObject({ UserId: '000000000000', Arn: 'arn:aws:iam::000000000000:root' });
  });

  it('needs no permission, even under an explicit Deny', async () => {
    aws.control.createUser('deny-all', {
      policies: [
        { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] },
      ],
    });
    const who = await stsFor(aws, aws.control.createAccessKey('deny-all')).send(
      new GetCallerIdentityCommand({}),
    );
    expect(who.Arn).toBe('arn:aws:iam::000000000000:user/deny-all');
  });
});

describe('temporary credential expiry', () => {
  it('answers ExpiredToken (403) once the injected clock passes Expiration', async () => {
    aws.control.setClock('2026-05-01T12:00:00Z');
    const answer = await keyvend.send(
      new GetFederationTokenCommand({ Name: 'dev-exp', DurationSeconds: 900 }),
    );
    const fed = stsFor(aws, credsOf(answer), { maxAttempts: 1 });
    aws.control.advanceClock(899_000);
    await expect(fed.send(new GetCallerIdentityCommand({}))).resolves.toBeTruthy();
    aws.control.advanceClock(1_000);
    const error = await rejectionOf(fed.send(new GetCallerIdentityCommand({})));
    expect(error.name).toBe('ExpiredToken');
    expect(error.$metadata?.httpStatusCode).toBe(403);
    expect(error.message).toBe('The security token included in the request is expired');
  });
});

describe('request authentication', () => {
  it('answers InvalidClientTokenId for an unknown access key', async () => {
    const error = await rejectionOf(
      stsFor(
        aws,
        { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: 'x'.repeat(40) },
        { maxAttempts: 1 },
      ).send(new GetCallerIdentityCommand({})),
    );
    expect(error.name).toBe('InvalidClientTokenId');
    expect(error.$metadata?.httpStatusCode).toBe(403);
    expect(error.message).toBe('The security token included in the request is invalid.');
  });

  it('answers InvalidClientTokenId for an Inactive key and works again once reactivated', async () => {
    aws.control.createUser('flip');
    const flip = aws.control.createAccessKey('flip');
    const client = stsFor(aws, flip, { maxAttempts: 1 });
    aws.control.updateAccessKey(flip.accessKeyId, 'Inactive');
    expect((await rejectionOf(client.send(new GetCallerIdentityCommand({})))).name).toBe(
      'InvalidClientTokenId',
    );
    aws.control.updateAccessKey(flip.accessKeyId, 'Active');
    await expect(client.send(new GetCallerIdentityCommand({}))).resolves.toBeTruthy();
  });

  it('answers SignatureDoesNotMatch for a wrong secret', async () => {
    const error = await rejectionOf(
      stsFor(
        aws,
        { accessKeyId: key.accessKeyId, secretAccessKey: 'y'.repeat(40) },
        { maxAttempts: 1 },
      ).send(new GetCallerIdentityCommand({})),
    );
    expect(error.name).toBe('SignatureDoesNotMatch');
    expect(error.$metadata?.httpStatusCode).toBe(403);
  });

  it('answers InvalidClientTokenId for session keys with a wrong or missing token', async () => {
    const answer = await keyvend.send(new GetFederationTokenCommand({ Name: 'dev-tok' }));
    const creds = credsOf(answer);
    const wrong = await rejectionOf(
      stsFor(aws, { ...creds, sessionToken: `${creds.sessionToken}x` }, { maxAttempts: 1 }).send(
        new GetCallerIdentityCommand({}),
      ),
    );
    expect(wrong.name).toBe('InvalidClientTokenId');
    const missing = await rejectionOf(
      stsFor(
        aws,
        { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
        { maxAttempts: 1 },
      ).send(new GetCallerIdentityCommand({})),
    );
    expect(missing.name).toBe('InvalidClientTokenId');
  });

  it('refuses a request signed more than 15 minutes off the server clock', async () => {
    const skewed = await startQuiet({ wireClock: () => new Date(Date.now() + 16 * 60_000) });
    try {
      const id = skewed.control.bootstrapKeyvendIdentity();
      const error = await rejectionOf(
        stsFor(skewed, id, { maxAttempts: 1 }).send(new GetCallerIdentityCommand({})),
      );
      expect(error.name).toBe('SignatureDoesNotMatch');
      expect(error.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
      // The SDK reads the server's Date header, corrects its clock and succeeds on a retry.
      const retrying = stsFor(skewed, id, { maxAttempts: 2 });
      await expect(retrying.send(new GetCallerIdentityCommand({}))).resolves.toBeTruthy();
      expect(skewed.control.requests().at(-1)?.attempt).toBe(2);
    } finally {
      await skewed.close();
    }
  });

  it('logs the access key id and signing scope of each request', async () => {
    await keyvend.send(new GetCallerIdentityCommand({}));
    const [record] = aws.control.requests();
    expect(record).toMatchObject({
      service: 'sts',
      action: 'GetCallerIdentity',
      accessKeyId: key.accessKeyId,
      signingRegion: 'eu-west-1',
      signingService: 'sts',
      attempt: 1,
      status: 200,
      code: 'OK',
    });
  });
});
