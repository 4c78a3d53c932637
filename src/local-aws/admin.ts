/**
 * `/_admin/*`: the control surface over HTTP JSON, for developers driving the local endpoint
 * from another process (`curl -X POST http://127.0.0.1:PORT/_admin/createUser -d
 * '{"name":"alice"}'`). Each route is a control method; its JSON body holds the method's
 * arguments by name, and the answer is `{ "result": … }` or `{ "error": { code, message } }`.
 * Read-only routes also answer GET, with arguments in the query string.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError, isAwsError } from './aws-error.js';
import type { Control } from './control.js';
import { readBody } from './server.js';

type Args = Record<string, unknown>;
type Route = { readOnly?: boolean; run: (control: Control, args: Args) => unknown };

function str(args: Args, name: string): string {
  const value = args[name];
  if (typeof value !== 'string')
    throw new AwsError('InvalidInput', 400, `${name} must be a string.`);
  return value;
}

function optional<T>(args: Args, name: string): T | undefined {
  return args[name] as T | undefined;
}

/** The admin routes, by method name. */
export const ADMIN_ROUTES: Readonly<Record<string, Route>> = {
  createUser: {
    run: (c, a) =>
      c.createUser(str(a, 'name'), {
        policies: optional(a, 'policies'),
        path: optional(a, 'path'),
        tags: optional(a, 'tags'),
      }),
  },
  createAccessKey: { run: (c, a) => c.createAccessKey(str(a, 'userName')) },
  createRootAccessKey: { run: (c) => c.createRootAccessKey() },
  updateAccessKey: {
    run: (c, a) => c.updateAccessKey(str(a, 'accessKeyId'), str(a, 'status') as 'Active'),
  },
  deleteAccessKey: { run: (c, a) => c.deleteAccessKey(str(a, 'accessKeyId')) },
  putUserPolicy: {
    run: (c, a) => c.putUserPolicy(str(a, 'userName'), str(a, 'policyName'), a.policy as string),
  },
  createPolicy: { run: (c, a) => c.createPolicy(str(a, 'name'), a.policy as string) },
  attachUserPolicy: { run: (c, a) => c.attachUserPolicy(str(a, 'userName'), str(a, 'policyArn')) },
  bootstrapKeyvendIdentity: {
    run: (c, a) => c.bootstrapKeyvendIdentity({ delegate: optional(a, 'delegate') }),
  },
  throttleNext: { run: (c, a) => c.throttleNext(a.n as number) },
  setRateLimit: {
    run: (c, a) =>
      c.setRateLimit({ ratePerSecond: a.ratePerSecond as number, burst: a.burst as number }),
  },
  failNext: { run: (c, a) => c.failNext(a.n as number, a.kind as 'internal') },
  setLatency: { run: (c, a) => c.setLatency(a.ms as number) },
  forcePackedPolicyTooLarge: { run: (c, a) => c.forcePackedPolicyTooLarge(a.force === true) },
  setPackedBudget: { run: (c, a) => c.setPackedBudget(a.units as number) },
  setRegionDisabled: {
    run: (c, a) => c.setRegionDisabled(str(a, 'region'), a.disabled === true),
  },
  setClock: {
    run: (c, a) => c.setClock(a.date === null || a.date === undefined ? null : str(a, 'date')),
  },
  advanceClock: { run: (c, a) => c.advanceClock(a.ms as number) },
  now: { readOnly: true, run: (c) => c.now() },
  requests: { readOnly: true, run: (c) => c.requests() },
  clearRequests: { run: (c) => c.clearRequests() },
  stsCallCount: {
    readOnly: true,
    run: (c, a) => c.stsCallCount(a.action === undefined ? undefined : str(a, 'action')),
  },
  sessions: { readOnly: true, run: (c) => c.sessions() },
  createRole: { run: (c, a) => c.createRole(str(a, 'name'), a as never) },
  createOpenIdConnectProvider: {
    run: (c, a) =>
      c.createOpenIdConnectProvider({ url: str(a, 'url'), clientIds: a.clientIds as string[] }),
  },
  authorize: { run: (c, a) => c.authorize(a as never) },
  reset: { run: (c) => c.reset() },
};

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

/** Answers one `/_admin/<method>` request. */
export async function handleAdminRequest(
  req: IncomingMessage,
  res: ServerResponse,
  control: Control,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://local');
  const name = url.pathname.slice('/_admin/'.length);
  const route = Object.hasOwn(ADMIN_ROUTES, name) ? ADMIN_ROUTES[name] : undefined;
  try {
    if (route === undefined) {
      sendJson(res, 404, { error: { code: 'NotFound', message: `No admin route ${name}.` } });
      return;
    }
    let args: Args;
    if (req.method === 'GET' && route.readOnly) {
      args = Object.fromEntries(url.searchParams);
    } else if (req.method === 'POST') {
      const body = await readBody(req, 1024 * 1024);
      if (body === undefined) throw new AwsError('InvalidInput', 413, 'The body is too large.');
      const text = body.toString('utf8').trim();
      let parsed: unknown = {};
      try {
        parsed = text === '' ? {} : JSON.parse(text);
      } catch {
        throw new AwsError('InvalidInput', 400, 'The body must be a JSON object.');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new AwsError('InvalidInput', 400, 'The body must be a JSON object.');
      }
      args = parsed as Args;
    } else {
      sendJson(res, 405, { error: { code: 'MethodNotAllowed', message: 'Use POST.' } });
      return;
    }
    const result = await route.run(control, args);
    sendJson(res, 200, { result: result ?? null });
  } catch (error) {
    if (isAwsError(error) && error.statusCode < 500) {
      sendJson(res, error.statusCode, { error: { code: error.code, message: error.message } });
      return;
    }
    sendJson(res, 500, { error: { code: 'InternalFailure', message: 'The admin call failed.' } });
  }
}
