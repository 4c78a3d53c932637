/**
 * A scriptable stand-in for keyvend's HTTP API on a loopback port, for the client library's
 * unit tests: it speaks `POST /v1/devices` and `POST /v1/credentials` as the real server does
 * (same bodies, same error envelope), records every request, and lets a test decide what the
 * next answers are (a challenge, a refusal, throttling). The real server is exercised by the
 * integration tests; this one exists to count requests and to script rare answers.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
}

export interface ScriptedReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Decides the answer to a request; return undefined for the default behaviour. */
export type Responder = (request: RecordedRequest) => ScriptedReply | undefined;

export interface FakeKeyvend {
  url: string;
  requests: RecordedRequest[];
  /** Requests to one path. */
  count(path: string): number;
  /** Answers the next requests to `path` with these replies, in order, before the default. */
  script(path: string, ...replies: ScriptedReply[]): void;
  /** A responder consulted before scripts and the default. */
  respond(responder: Responder | undefined): void;
  /** Tokens the default `/v1/credentials` accepts (every registered one, unless revoked). */
  revoke(token: string): void;
  /** Expiration the default `/v1/credentials` answers with. */
  expiration: () => Date;
  /** Forgets recorded requests, scripts, the responder and a custom expiration. */
  reset(): void;
  close(): Promise<void>;
}

export function errorBody(code: string, extra: Record<string, unknown> = {}): unknown {
  return { error: { code, message: `refused: ${code}`, ...extra } };
}

export async function startFakeKeyvend(): Promise<FakeKeyvend> {
  const requests: RecordedRequest[] = [];
  const scripts = new Map<string, ScriptedReply[]>();
  const tokens = new Set<string>();
  let responder: Responder | undefined;
  let devices = 0;
  let keys = 0;

  const fake: FakeKeyvend = {
    url: '',
    requests,
    count: (path) => requests.filter((r) => r.path === path).length,
    script: (path, ...replies) => scripts.set(path, [...(scripts.get(path) ?? []), ...replies]),
    respond: (r) => {
      responder = r;
    },
    revoke: (token) => tokens.delete(token),
    expiration: () => new Date(Date.now() + 3600_000),
    reset: () => {
      requests.length = 0;
      scripts.clear();
      responder = undefined;
      fake.expiration = () => new Date(Date.now() + 3600_000);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  function defaultReply(req: RecordedRequest): ScriptedReply {
    if (req.method === 'POST' && req.path === '/v1/devices') {
      devices++;
      const token = `tok-${devices}`;
      tokens.add(token);
      return {
        status: 201,
        body: {
          deviceId: `d-${devices}`,
          profile: req.body?.profile,
          token,
          tokenExpiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString(),
          keyBound: req.body?.publicKey !== undefined,
        },
      };
    }
    if (req.method === 'POST' && req.path === '/v1/credentials') {
      const token = String(req.headers.authorization ?? '').replace(/^(Bearer|DPoP) /, '');
      if (!tokens.has(token)) return { status: 401, body: errorBody('KEYVEND_TOKEN_INVALID') };
      keys++;
      return {
        status: 200,
        headers: { 'cache-control': 'no-store' },
        body: {
          AccessKeyId: `ASIA${String(keys).padStart(16, '0')}`,
          SecretAccessKey: `secret-${keys}`,
          SessionToken: `session-${keys}`,
          Expiration: fake.expiration().toISOString(),
          Region: 'us-east-1',
          AccountId: '123456789012',
          DeviceId: `d-${token.slice(4)}`,
          Profile: 'demo',
        },
      };
    }
    return { status: 404, body: errorBody('KEYVEND_NOT_FOUND') };
  }

  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => {
      let body: Record<string, unknown> | undefined;
      try {
        body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
      } catch {
        body = undefined;
      }
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: (req.url ?? '').split('?')[0] ?? '',
        headers: req.headers,
        body,
      };
      requests.push(recorded);
      const reply =
        responder?.(recorded) ?? scripts.get(recorded.path)?.shift() ?? defaultReply(recorded);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
