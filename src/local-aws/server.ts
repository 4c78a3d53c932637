/**
 * The HTTP side of the local AWS endpoint: one Node `http` server answering AWS Query requests
 * on `POST /` and the control routes under `/_admin/*`. For an AWS request it applies the
 * injected latency and faults, routes by `Version` (falling back to the signing scope),
 * throttles STS with the token bucket, authenticates, enforces which operations each kind of
 * credential may call (`reference/sts-iam.md` §2), runs the operation and writes AWS's XML
 * envelope with `x-amzn-RequestId`, `Date` and `Content-Type: text/xml`. Bad input is always
 * a 4xx AWS error; an unexpected failure is a 500 that shows no internals.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Account, callerArn } from './account.js';
import { authenticate, peekAuthorization } from './authenticate.js';
import {
  AwsError,
  accessDenied,
  invalidClientTokenId,
  isAwsError,
  throttling,
} from './aws-error.js';
import type { Knobs } from './knobs.js';
import type { OidcProviders } from './oidc-providers.js';
import type { OperationContext, ServiceName } from './operation.js';
import { API_VERSIONS, OPERATIONS } from './operations.js';
import { QueryParams } from './query-protocol.js';
import { loggableParams, parseSdkRequestHeader, type RequestRecord } from './request-log.js';
import type { OidcKeyCache } from './web-identity-token.js';
import { errorEnvelope, NAMESPACES, successEnvelope } from './xml.js';

/** The request log keeps this many most recent requests, so a long-running endpoint stays small. */
export const MAX_LOGGED_REQUESTS = 10_000;

/** Largest request body accepted (AWS Query bodies are small). */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface AwsHandlerState {
  account: Account;
  knobs: Knobs;
  oidc: OidcProviders;
  oidcKeys: OidcKeyCache;
  log: RequestRecord[];
  /** The clock request signatures are checked against and `Date` is sent from. */
  wireClock: () => Date;
  /** Called for unexpected errors (never with secrets). */
  onInternalError: (error: unknown) => void;
}

/** Reads a request body up to `limit` bytes; undefined when it is larger. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerString(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function serviceFor(version: string | undefined, scopeService: string | undefined): ServiceName {
  if (version === API_VERSIONS.iam) return 'iam';
  if (version === API_VERSIONS.sts) return 'sts';
  return scopeService === 'iam' ? 'iam' : 'sts';
}

function send(
  res: ServerResponse,
  state: AwsHandlerState,
  status: number,
  body: string,
  requestId: string,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.destroyed || res.headersSent) return;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/xml');
  res.setHeader('x-amzn-RequestId', requestId);
  res.setHeader('Date', state.wireClock().toUTCString());
  res.setHeader('Content-Length', Buffer.byteLength(body));
  for (const [name, value] of Object.entries(extraHeaders)) res.setHeader(name, value);
  res.end(body);
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Answers one AWS Query request. */
export async function handleAwsRequest(
  req: IncomingMessage,
  res: ServerResponse,
  state: AwsHandlerState,
): Promise<void> {
  const requestId = randomUUID();
  const sdkRequest = parseSdkRequestHeader(headerString(req, 'amz-sdk-request'));
  const record: RequestRecord = {
    requestId,
    receivedAt: new Date(),
    service: undefined,
    action: undefined,
    params: {},
    signingRegion: undefined,
    signingService: undefined,
    attempt: sdkRequest.attempt,
    maxAttempts: sdkRequest.max,
    invocationId: headerString(req, 'amz-sdk-invocation-id'),
    accessKeyId: undefined,
    status: undefined,
    code: 'OK',
  };
  state.log.push(record);
  if (state.log.length > MAX_LOGGED_REQUESTS)
    state.log.splice(0, state.log.length - MAX_LOGGED_REQUESTS);
  let service: ServiceName = 'sts';

  try {
    const body = await readBody(req, MAX_BODY_BYTES);
    const signable = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body: body ?? Buffer.alloc(0),
    };
    const peeked = peekAuthorization(signable);
    record.signingRegion = peeked?.region;
    record.signingService = peeked?.service;
    record.accessKeyId = peeked?.accessKeyId;
    const params = QueryParams.parse(body?.toString('utf8') ?? '');
    const action = params.get('Action');
    service = serviceFor(params.get('Version'), peeked?.service);
    record.service = service;
    record.action = action;
    record.params = loggableParams(params.entries());

    if (state.knobs.latencyMs > 0) await delay(state.knobs.latencyMs);
    const fault = state.knobs.faults.shift();
    if (fault === 'reset') {
      record.code = 'ConnectionReset';
      req.socket.destroy();
      return;
    }
    if (fault === 'timeout') {
      record.code = 'Timeout';
      return;
    }
    if (fault === 'internal') {
      throw service === 'iam'
        ? new AwsError('ServiceFailure', 500, 'Service failure.')
        : new AwsError('InternalFailure', 500, 'An internal error occurred.');
    }

    if (body === undefined) {
      throw new AwsError('RequestEntityTooLarge', 413, 'The request body is too large.');
    }
    const path = signable.url.split('?')[0];
    if (signable.method !== 'POST' || path !== '/') {
      throw new AwsError(
        'InvalidAction',
        400,
        'The local AWS endpoint answers AWS Query requests on POST / only.',
      );
    }
    if (action === undefined || action === '') {
      throw new AwsError('MissingAction', 400, 'Missing Action');
    }
    const operation = OPERATIONS[service][action];
    if (service === 'sts' && state.knobs.takeThrottle()) throw throttling();

    let caller: OperationContext['caller'];
    let region = 'us-east-1';
    if (operation === undefined || operation.auth === 'sigv4') {
      const wireNow = state.wireClock();
      const result = authenticate(signable, state.account, service, wireNow, state.knobs.now());
      caller = result.caller;
      region = result.auth.region;
      if (caller.kind === 'session') {
        const { session } = caller;
        // Federation tokens reach no IAM operation and only GetCallerIdentity in STS.
        if (service === 'iam' && session.kind === 'federated-user') throw invalidClientTokenId();
        const allowed = ['GetCallerIdentity', 'GetFederationToken'];
        if (
          operation !== undefined &&
          service === 'sts' &&
          session.kind === 'federated-user' &&
          !allowed.includes(action)
        ) {
          throw accessDenied(
            `User: ${callerArn(state.account, caller)} is not authorized to perform: sts:${action}`,
          );
        }
      }
    } else if (peeked !== undefined) {
      region = peeked.region;
    }
    if (operation === undefined) {
      throw new AwsError(
        'InvalidAction',
        400,
        `Could not find operation ${action} for version ${params.get('Version') ?? API_VERSIONS[service]}`,
      );
    }

    const resultXml = await operation.handle({
      service,
      action,
      params,
      caller,
      region,
      account: state.account,
      knobs: state.knobs,
      oidc: state.oidc,
      oidcKeys: state.oidcKeys,
      requestId,
    });
    record.status = 200;
    send(
      res,
      state,
      200,
      successEnvelope(action, NAMESPACES[service], resultXml, requestId),
      requestId,
    );
  } catch (error) {
    let awsError: AwsError;
    if (isAwsError(error)) {
      awsError = error;
      if (error.statusCode >= 500 && error.cause !== undefined) state.onInternalError(error);
    } else {
      state.onInternalError(error);
      awsError =
        service === 'iam'
          ? new AwsError('ServiceFailure', 500, 'Service failure.')
          : new AwsError('InternalFailure', 500, 'An internal error occurred.');
    }
    record.status = awsError.statusCode;
    record.code = awsError.code;
    const xml = errorEnvelope(
      NAMESPACES[service],
      awsError.type,
      awsError.code,
      awsError.message,
      requestId,
    );
    send(res, state, awsError.statusCode, xml, requestId, awsError.headers);
  }
}
