/**
 * The two calls `keyvend/client` makes — `POST /v1/devices` and `POST /v1/credentials` — and
 * the translation of every answer into either a checked value or a `KeyvendClientError` that
 * keeps the server's code, status and `Retry-After`. Uses only `fetch`, `AbortController` and
 * `JSON`, so it runs in browsers, React Native and Node ≥ 20. Internal to the client.
 */
import { type KeyvendChallenge, KeyvendClientError } from './client-error.js';

/** The part of a `fetch` response the client reads. */
export interface FetchResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** A `fetch`-compatible function: `globalThis.fetch`, undici's, React Native's, a test double. */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
  },
) => Promise<FetchResponseLike>;

export interface HttpContext {
  /** keyvend's base URL without a trailing slash. */
  baseUrl: string;
  fetch: FetchLike;
  timeoutMs: number;
  now: () => Date;
}

export interface RequestSpec {
  method: 'POST' | 'GET';
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Sends one request; resolves to the parsed JSON body of a 2xx answer, else throws. */
export async function requestJson(ctx: HttpContext, spec: RequestSpec): Promise<unknown> {
  const url = ctx.baseUrl + spec.path;
  const headers: Record<string, string> = { accept: 'application/json', ...spec.headers };
  if (spec.body !== undefined) headers['content-type'] = 'application/json';
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ctx.timeoutMs);
  let response: FetchResponseLike;
  let text: string;
  try {
    response = await ctx.fetch(url, {
      method: spec.method,
      headers,
      ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
      signal: controller.signal,
    });
    text = await response.text();
  } catch (err) {
    const timedOut = controller.signal.aborted;
    throw new KeyvendClientError(
      'KEYVEND_CLIENT_NETWORK',
      timedOut
        ? `keyvend did not answer ${spec.method} ${spec.path} within ${ctx.timeoutMs} ms.`
        : `keyvend could not be reached (${spec.method} ${spec.path}).`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }

  const body = parseJson(text);
  if (response.status >= 200 && response.status < 300) {
    if (body === undefined) {
      throw badResponse(spec, response.status, 'the body is not JSON');
    }
    return body;
  }
  throw errorFromResponse(ctx, spec, response, body);
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorFromResponse(
  ctx: HttpContext,
  spec: RequestSpec,
  response: FetchResponseLike,
  body: unknown,
): KeyvendClientError {
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'), ctx.now());
  const envelope = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  if (envelope === undefined || typeof envelope.code !== 'string') {
    // A proxy's error page, or not keyvend at all: keep the status so retry logic still works.
    return new KeyvendClientError(
      response.status >= 500 ? 'KEYVEND_CLIENT_NETWORK' : 'KEYVEND_CLIENT_BAD_RESPONSE',
      `${spec.method} ${spec.path} answered HTTP ${response.status} without a keyvend error body.`,
      { status: response.status, retryAfter },
    );
  }
  const { code, message, challenges, ...details } = envelope;
  return new KeyvendClientError(
    code,
    typeof message === 'string' ? message : `keyvend refused the request (${code}).`,
    {
      status: response.status,
      retryAfter,
      challenges: Array.isArray(challenges) ? challenges.filter(isChallenge) : undefined,
      details,
    },
  );
}

/** `Retry-After` as seconds: either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

function badResponse(spec: RequestSpec, status: number, why: string): KeyvendClientError {
  return new KeyvendClientError(
    'KEYVEND_CLIENT_BAD_RESPONSE',
    `${spec.method} ${spec.path} answered HTTP ${status} but ${why}; is the URL keyvend's?`,
    { status },
  );
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isChallenge(value: unknown): value is KeyvendChallenge {
  return isRecord(value) && typeof value.type === 'string' && typeof value.id === 'string';
}

/** A device's answer to `POST /v1/devices`. */
export interface RegisterReply {
  deviceId: string;
  profile: string;
  token: string;
  tokenExpiresAt: string;
  keyBound: boolean;
}

export function parseRegisterReply(body: unknown): RegisterReply {
  if (
    !isRecord(body) ||
    typeof body.deviceId !== 'string' ||
    typeof body.profile !== 'string' ||
    typeof body.token !== 'string' ||
    body.token === '' ||
    typeof body.tokenExpiresAt !== 'string' ||
    Number.isNaN(Date.parse(body.tokenExpiresAt))
  ) {
    throw badShape('POST /v1/devices');
  }
  return {
    deviceId: body.deviceId,
    profile: body.profile,
    token: body.token,
    tokenExpiresAt: body.tokenExpiresAt,
    keyBound: body.keyBound === true,
  };
}

/** Temporary AWS credentials as `credentials()` hands them out. */
export interface KeyvendCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  /** The region keyvend's profile issues for (AWS clients may use it as their default). */
  region: string;
  accountId?: string;
  /** The ARN the credentials stand for, e.g. `arn:aws:sts::…:federated-user/…`. */
  principalArn?: string;
  deviceId: string;
  profile: string;
}

export function parseCredentialsReply(body: unknown): KeyvendCredentials {
  if (
    !isRecord(body) ||
    typeof body.AccessKeyId !== 'string' ||
    typeof body.SecretAccessKey !== 'string' ||
    typeof body.SessionToken !== 'string' ||
    typeof body.Expiration !== 'string' ||
    typeof body.Region !== 'string' ||
    typeof body.DeviceId !== 'string' ||
    typeof body.Profile !== 'string'
  ) {
    throw badShape('POST /v1/credentials');
  }
  const expiration = new Date(body.Expiration);
  if (Number.isNaN(expiration.getTime())) throw badShape('POST /v1/credentials');
  // Frozen: every caller shares the cached object.
  return Object.freeze({
    accessKeyId: body.AccessKeyId,
    secretAccessKey: body.SecretAccessKey,
    sessionToken: body.SessionToken,
    expiration,
    region: body.Region,
    ...(typeof body.AccountId === 'string' ? { accountId: body.AccountId } : {}),
    ...(typeof body.PrincipalArn === 'string' ? { principalArn: body.PrincipalArn } : {}),
    deviceId: body.DeviceId,
    profile: body.Profile,
  });
}

function badShape(what: string): KeyvendClientError {
  return new KeyvendClientError(
    'KEYVEND_CLIENT_BAD_RESPONSE',
    `${what} answered 2xx with a body that is not keyvend's; is the URL keyvend's?`,
  );
}
