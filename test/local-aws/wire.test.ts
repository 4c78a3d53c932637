import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalAws, signRequest, startLocalAws } from '../../src/local-aws/index.js';
import { type Creds, startQuiet, stsFor } from './fixtures.js';

let aws: LocalAws;
let key: Creds;

beforeAll(async () => {
  aws = await startQuiet();
  key = aws.control.bootstrapKeyvendIdentity();
});
afterAll(() => aws.close());
beforeEach(() => aws.control.reset());

interface RawOptions {
  service?: string;
  creds?: Creds | null;
  tamper?: (body: string) => string;
  contentSha256Header?: boolean;
  headers?: Record<string, string>;
}

async function raw(body: string, options: RawOptions = {}) {
  const host = new URL(aws.url).host;
  let headers: Record<string, string> = {
    host,
    'content-type': 'application/x-www-form-urlencoded',
    ...options.headers,
  };
  if (options.creds !== null) {
    headers = signRequest({ method: 'POST', url: '/', headers, body }, options.creds ?? key, {
      region: 'us-east-1',
      service: options.service ?? 'sts',
      contentSha256Header: options.contentSha256Header ?? true,
    });
  }
  const { host: _host, ...sendable } = headers;
  const response = await fetch(`${aws.url}/`, {
    method: 'POST',
    headers: sendable,
    body: options.tamper ? options.tamper(body) : body,
  });
  return { response, text: await response.text() };
}

function element(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

describe('the XML envelopes and headers', () => {
  it('answers success with the Result element, RequestId, text/xml and Date', async () => {
    const { response, text } = await raw('Version=2011-06-15&Action=GetCallerIdentity');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/xml');
    const requestId = response.headers.get('x-amzn-requestid');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const date = Date.parse(response.headers.get('date') ?? '');
    expect(Math.abs(date - Date.now())).toBeLessThan(60_000);
    expect(text).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<GetCallerIdentityResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/"><GetCallerIdentityResult>/,
    );
    expect(text).toContain(
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
    );
    expect(element(text, 'Arn')).toBe('arn:aws:iam::000000000000:user/keyvend');
    expect(Number(response.headers.get('content-length'))).toBe(Buffer.byteLength(text));
  });

  it('answers errors in ErrorResponse with Type Sender and the same RequestId', async () => {
    const { response, text } = await raw('Action=GetCallerIdentity&Version=2011-06-15', {
      creds: null,
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe('text/xml');
    const requestId = response.headers.get('x-amzn-requestid');
    expect(text).toContain('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">');
    expect(text).toContain(
      '<Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code><Message>Request is missing Authentication Token</Message></Error>',
    );
    expect(text).toContain(`<RequestId>${requestId}</RequestId></ErrorResponse>`);
  });

  it('answers an internal failure with Type Receiver and status 500', async () => {
    aws.control.failNext(1, 'internal');
    const { response, text } = await raw('Action=GetCallerIdentity&Version=2011-06-15');
    expect(response.status).toBe(500);
    expect(element(text, 'Type')).toBe('Receiver');
    expect(element(text, 'Code')).toBe('InternalFailure');
  });

  it('escapes caller input quoted in a message', async () => {
    const { response, text } = await raw(
      `Action=GetFederationToken&Version=2011-06-15&Name=${encodeURIComponent('<a&b>"\'')}`,
    );
    expect(response.status).toBe(400);
    expect(text).toContain("Value '&lt;a&amp;b&gt;&quot;'' at 'name'");
    expect(text).not.toContain('<a&b>');
  });
});

describe('the Query protocol', () => {
  it('parses parameters in any order, + or %20 for spaces, and lowercase PolicyArns arn', async () => {
    const policy = aws.control.createPolicy('read-wire', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    });
    const { response, text } = await raw(
      `Tags.member.1.Value=a+b&Name=dev-raw&PolicyArns.member.1.arn=${encodeURIComponent(policy.arn)}` +
        '&Tags.member.1.Key=k%20x&Action=GetFederationToken&Version=2011-06-15',
    );
    expect(response.status).toBe(200);
    const session = aws.control.sessions().find((s) => s.name === 'dev-raw');
    expect(session?.policyArns).toEqual([policy.arn]);
    expect(session?.tags).toEqual([{ key: 'k x', value: 'a b' }]);
    expect(element(text, 'Arn')).toBe('arn:aws:sts::000000000000:federated-user/dev-raw');
  });

  it('answers InvalidAction for an unknown Action and MissingAction without one', async () => {
    const unknown = await raw('Action=Bogus&Version=2011-06-15');
    expect(unknown.response.status).toBe(400);
    expect(element(unknown.text, 'Code')).toBe('InvalidAction');
    expect(element(unknown.text, 'Message')).toBe(
      'Could not find operation Bogus for version 2011-06-15',
    );
    const missing = await raw('Version=2011-06-15');
    expect(element(missing.text, 'Code')).toBe('MissingAction');
  });

  it('refuses a body larger than 1 MiB with 413', async () => {
    const { response } = await raw(
      `Action=GetCallerIdentity&Version=2011-06-15&x=${'a'.repeat(1024 * 1024)}`,
    );
    expect(response.status).toBe(413);
  });
});

describe('SigV4 verification', () => {
  it('accepts a request without x-amz-content-sha256', async () => {
    const { response } = await raw('Action=GetCallerIdentity&Version=2011-06-15', {
      contentSha256Header: false,
    });
    expect(response.status).toBe(200);
  });

  it('refuses a body changed after signing', async () => {
    for (const contentSha256Header of [true, false]) {
      const { response, text } = await raw('Action=GetCallerIdentity&Version=2011-06-15', {
        contentSha256Header,
        tamper: (body) => `${body}&x=1`,
      });
      expect(response.status).toBe(403);
      expect(element(text, 'Code')).toBe('SignatureDoesNotMatch');
    }
  });

  it('refuses a credential scoped to another service', async () => {
    const { response, text } = await raw('Action=GetCallerIdentity&Version=2011-06-15', {
      service: 'iam',
    });
    expect(response.status).toBe(403);
    expect(element(text, 'Code')).toBe('SignatureDoesNotMatch');
    expect(element(text, 'Message')).toContain(
      "Credential should be scoped to correct service: 'sts'",
    );
  });

  it('insists that host and x-amz-date are signed', async () => {
    const host = new URL(aws.url).host;
    const body = 'Action=GetCallerIdentity&Version=2011-06-15';
    const signed = signRequest({ method: 'POST', url: '/', headers: { host }, body }, key, {
      region: 'us-east-1',
      service: 'sts',
    });
    const authorization = (signed.authorization ?? '').replace(
      /SignedHeaders=[^,]+/,
      'SignedHeaders=host',
    );
    const { host: _h, ...sendable } = signed;
    const response = await fetch(`${aws.url}/`, {
      method: 'POST',
      headers: { ...sendable, authorization },
      body,
    });
    expect(response.status).toBe(400);
    expect(element(await response.text(), 'Code')).toBe('IncompleteSignature');
  });

  it('answers IncompleteSignature for a malformed Authorization header', async () => {
    const { response, text } = await raw('Action=GetCallerIdentity&Version=2011-06-15', {
      creds: null,
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=nonsense' },
    });
    expect(response.status).toBe(400);
    expect(element(text, 'Code')).toBe('IncompleteSignature');
  });
});

describe('start-up', () => {
  it('says loudly that it is a development tool', async () => {
    const lines: string[] = [];
    const loud = await startLocalAws({ log: (line) => lines.push(line) });
    await loud.close();
    expect(lines[0]).toMatch(
      /^WARNING: keyvend local AWS endpoint at http:\/\/127\.0\.0\.1:\d+ — DEVELOPMENT ONLY/,
    );
    expect(lines[0]).toContain('Never use it in production');
  });
});

describe('the admin routes', () => {
  async function admin(name: string, body?: unknown, method = 'POST') {
    const response = await fetch(`${aws.url}/_admin/${name}`, {
      method,
      ...(method === 'POST'
        ? { body: typeof body === 'string' ? body : JSON.stringify(body ?? {}) }
        : {}),
    });
    return {
      status: response.status,
      json: (await response.json()) as { result?: unknown; error?: { code: string } },
    };
  }

  it('seeds a user and key over HTTP that the SDK can then use', async () => {
    const user = await admin('createUser', {
      name: 'http-user',
      tags: [{ key: 'team', value: 'a' }],
    });
    expect(user.status).toBe(200);
    const created = await admin('createAccessKey', { userName: 'http-user' });
    const creds = created.json.result as Creds;
    const who = await stsFor(aws, creds).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe('arn:aws:iam::000000000000:user/http-user');
    const log = await admin('requests', undefined, 'GET');
    expect(log.json.result).toHaveLength(1);
    const count = await fetch(`${aws.url}/_admin/stsCallCount?action=GetCallerIdentity`);
    expect(((await count.json()) as { result: number }).result).toBe(1);
  });

  it('answers 4xx JSON errors for bad input, never 500', async () => {
    expect((await admin('createUser', '{nope')).status).toBe(400);
    expect((await admin('createUser', { name: 'bad', policies: 'x' })).status).toBe(400);
    expect((await admin('createUser', { name: 'bad2', policies: [{ Statement: 1 }] })).status).toBe(
      400,
    );
    expect((await admin('throttleNext', { n: -1 })).status).toBe(400);
    expect((await admin('failNext', { n: 1, kind: 'explode' })).status).toBe(400);
    expect((await admin('noSuchRoute')).status).toBe(404);
    expect((await admin('reset', undefined, 'GET')).status).toBe(405);
    const dup = await admin('createUser', { name: 'KEYVEND' });
    expect(dup.status).toBe(409);
    expect(dup.json.error?.code).toBe('EntityAlreadyExists');
  });
});
