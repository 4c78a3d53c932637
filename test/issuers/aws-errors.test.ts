/**
 * Unit tests of the translation table with the SDK's own exception classes, plus the
 * connection-level failures (refused, reset, timeout, no credentials) driven through the
 * real STS client against loopback sockets. The AWS-answered errors are also driven end to
 * end against the local endpoint in federation-token.test.ts.
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  GetCallerIdentityCommand,
  MalformedPolicyDocumentException,
  PackedPolicyTooLargeException,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it } from 'vitest';
import type { AwsConfig } from '../../src/config/schema.js';
import { isKeyvendError, type KeyvendError } from '../../src/errors.js';
import { createStsClient } from '../../src/issuers/aws-clients.js';
import { AwsCallError, isRetryable, translateAwsError } from '../../src/issuers/aws-errors.js';

const ctx = { operation: 'sts:GetFederationToken', templateName: 'device-s3.json' };

function serviceError(name: string, status: number, message = 'AWS said something') {
  return new STSServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: 'req-1' },
    message,
  });
}

describe('translateAwsError', () => {
  it.each([
    ['Throttling', 400, 'KEYVEND_STS_THROTTLED', 503],
    ['ThrottlingException', 400, 'KEYVEND_STS_THROTTLED', 503],
    ['AccessDenied', 403, 'KEYVEND_AWS_ACCESS_DENIED', 502],
    ['InvalidClientTokenId', 403, 'KEYVEND_AWS_CREDENTIALS_INVALID', 502],
    ['SignatureDoesNotMatch', 403, 'KEYVEND_AWS_CREDENTIALS_INVALID', 502],
    ['ExpiredToken', 403, 'KEYVEND_AWS_CREDENTIALS_INVALID', 502],
    ['InternalFailure', 500, 'KEYVEND_STS_UNAVAILABLE', 503],
    ['ServiceUnavailable', 503, 'KEYVEND_STS_UNAVAILABLE', 503],
    ['SomethingNew', 502, 'KEYVEND_STS_UNAVAILABLE', 503],
    ['InvalidIdentityToken', 400, 'KEYVEND_WEB_IDENTITY_REJECTED', 502],
    ['SomethingNew', 400, 'KEYVEND_AWS_ERROR', 502],
  ])('maps %s (HTTP %i) to %s', (name, status, code, httpStatus) => {
    const err = translateAwsError(serviceError(name, status), ctx);
    expect(err.code).toBe(code);
    expect(err.statusCode).toBe(httpStatus);
    expect(err.message).not.toContain('AWS said something');
    expect(err.cause).toBeInstanceOf(AwsCallError);
    expect((err.cause as AwsCallError).message).toContain('AWS said something');
  });

  it('sends Retry-After with throttling and unavailability, and only those retry', () => {
    const throttled = translateAwsError(serviceError('Throttling', 400), ctx);
    const down = translateAwsError(serviceError('InternalFailure', 500), ctx);
    const denied = translateAwsError(serviceError('AccessDenied', 403), ctx);
    expect(throttled.headers?.['retry-after']).toMatch(/^\d+$/);
    expect(down.headers?.['retry-after']).toMatch(/^\d+$/);
    expect([isRetryable(throttled), isRetryable(down), isRetryable(denied)]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('says an access denial is about keyvend’s own identity and names the operation', () => {
    const err = translateAwsError(serviceError('AccessDenied', 403), ctx);
    expect(err.message).toMatch(/keyvend's own AWS identity/);
    expect(err.message).toContain('sts:GetFederationToken');
  });

  it('names the template when AWS rejects the policy', () => {
    const malformed = new MalformedPolicyDocumentException({
      $metadata: { httpStatusCode: 400 },
      message: 'Syntax errors in policy.',
    });
    const packed = new PackedPolicyTooLargeException({
      $metadata: { httpStatusCode: 400 },
      message: 'Packed policy consumes 120% of allotted space',
    });
    const tooLong = serviceError(
      'ValidationError',
      400,
      "1 validation error detected: Value '{...}' at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048",
    );
    for (const e of [malformed, packed, tooLong]) {
      const err = translateAwsError(e, ctx);
      expect(err.code).toBe('KEYVEND_POLICY_REJECTED');
      expect(err.message).toContain('device-s3.json');
    }
  });

  it('keeps other validation errors apart from policy rejections', () => {
    const duration = serviceError(
      'ValidationError',
      400,
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
    const err = translateAwsError(duration, ctx);
    expect(err.code).toBe('KEYVEND_AWS_ERROR');
    expect(err.message).toMatch(/maxSessionDuration/);
  });

  it('redacts a token AWS echoes back before it can reach a log', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const err = translateAwsError(
      serviceError('ValidationError', 400, `Value '${jwt}' at 'webIdentityToken' failed`),
      { operation: 'sts:AssumeRoleWithWebIdentity' },
    );
    expect(String((err.cause as Error).message)).not.toContain(jwt);
  });

  it('passes a KeyvendError through unchanged', () => {
    const original = translateAwsError(serviceError('Throttling', 400), ctx);
    expect(translateAwsError(original, ctx)).toBe(original);
  });
});

describe('translateAwsError on connection failures (real STS client, loopback sockets)', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  const aws: AwsConfig = {
    region: 'us-east-1',
    circuitBreaker: { failureThreshold: 5, openSeconds: 10 },
    maxAttempts: 1,
    timeoutMs: 300,
    local: { enabled: false, host: '127.0.0.1', port: 0, accountId: '000000000000' },
  };
  const credentials = { accessKeyId: 'AKIAEXAMPLEEXAMPLE00', secretAccessKey: 'x'.repeat(40) };

  async function listen(onSocket: (s: Socket) => void): Promise<string> {
    const server = createServer((socket) => {
      sockets.push(socket);
      onSocket(socket);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return `http://127.0.0.1:${address.port}`;
  }

  async function callOnce(
    endpoint: string,
    creds: typeof credentials | (() => never) = credentials,
  ) {
    const sts = createStsClient(aws, { endpoint, credentials: creds });
    try {
      await sts.send(new GetCallerIdentityCommand({}));
    } catch (err) {
      return translateAwsError(err, { operation: 'sts:GetCallerIdentity' });
    } finally {
      sts.destroy();
    }
    throw new Error('the call unexpectedly succeeded');
  }

  it('maps a refused connection to KEYVEND_STS_UNAVAILABLE', async () => {
    const endpoint = await listen(() => {});
    await new Promise((r) => servers.pop()?.close(r));
    const err = await callOnce(endpoint);
    expect(err.code).toBe('KEYVEND_STS_UNAVAILABLE');
    expect((err.cause as AwsCallError).awsCode).toBe('ECONNREFUSED');
  });

  it('maps a connection reset to KEYVEND_STS_UNAVAILABLE', async () => {
    const endpoint = await listen((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const err = await callOnce(endpoint);
    expect(err.code).toBe('KEYVEND_STS_UNAVAILABLE');
  });

  it('maps a request that outlives aws.timeoutMs to KEYVEND_STS_UNAVAILABLE, on time', async () => {
    const endpoint = await listen(() => {}); // accepts, never answers
    const started = performance.now();
    const err = await callOnce(endpoint);
    const elapsed = performance.now() - started;
    expect(err.code).toBe('KEYVEND_STS_UNAVAILABLE');
    expect(elapsed).toBeLessThan(2000);
  });

  it('maps a credential chain that finds nothing to KEYVEND_AWS_CREDENTIALS_INVALID', async () => {
    const endpoint = await listen(() => {});
    const noCredentials = () => {
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      });
    };
    const err: KeyvendError = await callOnce(endpoint, noCredentials);
    expect(isKeyvendError(err) && err.code).toBe('KEYVEND_AWS_CREDENTIALS_INVALID');
  });
});
