/**
 * Translates AWS SDK errors into `KeyvendError`s at the issuer boundary (Vault's
 * `CheckAWSError`). A device only ever sees keyvend's own code and message; AWS's text goes to
 * the log, and only through `cause`, as an `AwsCallError` summary that keeps the AWS code,
 * HTTP status and request id but never the SDK's request or response objects (which carry
 * signed headers) and with anything token-shaped in the message redacted.
 *
 * Classification follows the SDK's own (`service-error-classification`, see
 * `reference/sts-iam.md` §6): throttling → 503 `KEYVEND_STS_THROTTLED`, transient (5xx,
 * timeouts, connection errors) → 503 `KEYVEND_STS_UNAVAILABLE`; both carry `Retry-After` and
 * are the only ones `resilience.ts` retries.
 */
import { type ErrorCode, isKeyvendError, KeyvendError } from '../errors.js';

/** The sanitized record of a failed AWS call, kept as a `KeyvendError`'s `cause`. */
export class AwsCallError extends Error {
  override readonly name = 'AwsCallError';
  constructor(
    /** The operation, e.g. `sts:GetFederationToken`. */
    readonly operation: string,
    /** AWS's error code or the Node error code, e.g. `Throttling`, `ECONNRESET`. */
    readonly awsCode: string,
    message: string,
    readonly httpStatus: number | undefined,
    readonly requestId: string | undefined,
  ) {
    super(
      `${operation}: ${awsCode}${httpStatus === undefined ? '' : ` (HTTP ${httpStatus})`}: ${redact(message)}`,
    );
  }
}

/** What the translation needs to know about the call that failed. */
export interface AwsErrorContext {
  /** The operation, e.g. `sts:GetFederationToken`. */
  operation: string;
  /** The policy template's file name, for `KEYVEND_POLICY_REJECTED`. */
  templateName?: string;
}

/** The SDK's throttling names (`THROTTLING_ERROR_CODES`), plus IAM's. */
const THROTTLING = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
]);

const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'AbortError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  // STS could not fetch keyvend's OIDC discovery document or JWKS.
  'IDPCommunicationError',
  'IDPCommunicationErrorException',
]);

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);

const BAD_CREDENTIALS = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'AuthFailure',
  // The SDK's credential chain found nothing usable.
  'CredentialsProviderError',
  'ProviderError',
]);

const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException']);

const POLICY_REJECTED = new Set([
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
  'PackedPolicyTooLarge',
  'PackedPolicyTooLargeException',
]);

const WEB_IDENTITY_REJECTED = new Set([
  'InvalidIdentityToken',
  'InvalidIdentityTokenException',
  'IDPRejectedClaim',
  'IDPRejectedClaimException',
  'ExpiredTokenException',
]);

/** `Retry-After` seconds sent with a throttling error when AWS suggests none. */
export const THROTTLED_RETRY_AFTER_SECONDS = 1;
/** `Retry-After` seconds sent when STS cannot be reached. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

/** True for the codes a retry can cure: throttling and transient STS failures. */
export function isRetryable(err: unknown): boolean {
  return (
    isKeyvendError(err) &&
    (err.code === 'KEYVEND_STS_THROTTLED' || err.code === 'KEYVEND_STS_UNAVAILABLE')
  );
}

/**
 * Turns whatever an SDK call threw into a `KeyvendError`. A `KeyvendError` passes through
 * unchanged.
 *
 * @example
 * ```ts
 * try {
 *   out = await sts.send(new GetFederationTokenCommand(input));
 * } catch (err) {
 *   throw translateAwsError(err, { operation: 'sts:GetFederationToken', templateName });
 * }
 * ```
 */
export function translateAwsError(err: unknown, context: AwsErrorContext): KeyvendError {
  if (isKeyvendError(err)) return err;
  const facts = describe(err);
  const cause = new AwsCallError(
    context.operation,
    facts.code,
    facts.message,
    facts.status,
    facts.requestId,
  );
  const make = (code: ErrorCode, message?: string, headers?: Record<string, string>) =>
    new KeyvendError(code, message, headers === undefined ? { cause } : { cause, headers });

  if (THROTTLING.has(facts.code) || facts.status === 429) {
    const after = facts.retryAfter ?? THROTTLED_RETRY_AFTER_SECONDS;
    return make('KEYVEND_STS_THROTTLED', undefined, { 'retry-after': String(after) });
  }
  if (BAD_CREDENTIALS.has(facts.code)) {
    return make(
      'KEYVEND_AWS_CREDENTIALS_INVALID',
      `keyvend's own AWS credentials were refused by ${context.operation} (${facts.code}).`,
    );
  }
  if (ACCESS_DENIED.has(facts.code)) {
    return make(
      'KEYVEND_AWS_ACCESS_DENIED',
      `keyvend's own AWS identity lacks the permission for ${context.operation}.`,
    );
  }
  if (WEB_IDENTITY_REJECTED.has(facts.code)) {
    return make(
      'KEYVEND_WEB_IDENTITY_REJECTED',
      `AWS refused keyvend's ID token (${facts.code}); check the role's trust policy and the IAM OIDC provider.`,
    );
  }
  if (POLICY_REJECTED.has(facts.code) || isPolicyValidationError(facts)) {
    const template = context.templateName ?? 'the profile policy';
    return make(
      'KEYVEND_POLICY_REJECTED',
      `AWS rejected the session policy rendered from ${template} (${facts.code}).`,
    );
  }
  if (
    TRANSIENT_NAMES.has(facts.code) ||
    NETWORK_CODES.has(facts.code) ||
    (facts.status !== undefined && facts.status >= 500)
  ) {
    return make('KEYVEND_STS_UNAVAILABLE', undefined, {
      'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS),
    });
  }
  if (facts.code === 'ValidationError' && /durationseconds/i.test(facts.message)) {
    return make(
      'KEYVEND_AWS_ERROR',
      `${context.operation} refused DurationSeconds; set the issuer's maxSessionDuration to the role's MaxSessionDuration.`,
    );
  }
  if (facts.code === 'RegionDisabledException') {
    return make('KEYVEND_AWS_ERROR', 'STS is not activated in the configured region.');
  }
  return make('KEYVEND_AWS_ERROR', `${context.operation} failed (${facts.code}).`);
}

interface ErrorFacts {
  code: string;
  message: string;
  status: number | undefined;
  requestId: string | undefined;
  retryAfter: number | undefined;
}

function describe(err: unknown): ErrorFacts {
  if (!(err instanceof Error)) {
    return {
      code: 'Unknown',
      message: String(err),
      status: undefined,
      requestId: undefined,
      retryAfter: undefined,
    };
  }
  const e = err as Error & {
    code?: unknown;
    $metadata?: { httpStatusCode?: number; requestId?: string };
    $response?: { headers?: Record<string, string | undefined> };
  };
  // Node network errors carry `code`; SDK errors carry their AWS code as `name`.
  const nodeCode = typeof e.code === 'string' && NETWORK_CODES.has(e.code) ? e.code : undefined;
  return {
    code: nodeCode ?? (e.name === 'Error' && typeof e.code === 'string' ? e.code : e.name),
    message: e.message,
    status: e.$metadata?.httpStatusCode,
    requestId: e.$metadata?.requestId,
    retryAfter: parseRetryAfter(e.$response?.headers?.['retry-after']),
  };
}

/** A ValidationError about the policy parameters (length, characters) rather than other ones. */
function isPolicyValidationError(facts: ErrorFacts): boolean {
  return facts.code === 'ValidationError' && /'(policy|policyArns)/i.test(facts.message);
}

/** Seconds from a `Retry-After` header, kept to 1–60; undefined when absent or a date. */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,5}$/.test(value.trim())) return undefined;
  return Math.min(60, Math.max(1, Number(value.trim())));
}

/** Removes JWTs and long base64 runs (session tokens) that AWS may echo back in a message. */
function redact(message: string): string {
  return message
    .replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '[redacted token]')
    .replace(/[A-Za-z0-9+/=]{100,}/g, '[redacted]');
}
