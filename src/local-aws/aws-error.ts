/**
 * The errors the local AWS endpoint answers with. They are AWS's own codes, not keyvend's: the
 * endpoint imitates STS/IAM, so a handler throws an `AwsError` and the server renders it as
 * AWS's XML `ErrorResponse` (`reference/sts-iam.md` §1.5). Messages follow AWS's wording and
 * never carry a secret (secret keys, session tokens, web identity tokens).
 */

/** Whether AWS blames the caller (`Sender`) or itself (`Receiver`). */
export type AwsFaultType = 'Sender' | 'Receiver';

/** An error in AWS's shape: code, HTTP status and message. */
export class AwsError extends Error {
  override readonly name = 'AwsError';
  readonly code: string;
  readonly statusCode: number;
  readonly type: AwsFaultType;
  /** Extra response headers, e.g. `Retry-After`. */
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: string,
    statusCode: number,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.statusCode = statusCode;
    this.type = statusCode >= 500 ? 'Receiver' : 'Sender';
    this.headers = options.headers;
  }
}

export function isAwsError(value: unknown): value is AwsError {
  return value instanceof AwsError;
}

/** The messages AWS uses for the request-level errors both services share. */
export const AWS_MESSAGES = {
  missingAuth: 'Request is missing Authentication Token',
  invalidClientTokenId: 'The security token included in the request is invalid.',
  signatureDoesNotMatch:
    'The request signature we calculated does not match the signature you provided. ' +
    'Check your AWS Secret Access Key and signing method. ' +
    'Consult the service documentation for details.',
  expiredToken: 'The security token included in the request is expired',
  throttling: 'Rate exceeded',
  internal: 'An internal error occurred. Please try again later.',
} as const;

export const missingAuthenticationToken = (): AwsError =>
  new AwsError('MissingAuthenticationToken', 403, AWS_MESSAGES.missingAuth);

export const invalidClientTokenId = (): AwsError =>
  new AwsError('InvalidClientTokenId', 403, AWS_MESSAGES.invalidClientTokenId);

export const signatureDoesNotMatch = (message: string = AWS_MESSAGES.signatureDoesNotMatch) =>
  new AwsError('SignatureDoesNotMatch', 403, message);

export const incompleteSignature = (message: string): AwsError =>
  new AwsError('IncompleteSignature', 400, message);

export const expiredToken = (): AwsError =>
  new AwsError('ExpiredToken', 403, AWS_MESSAGES.expiredToken);

export const accessDenied = (message: string): AwsError =>
  new AwsError('AccessDenied', 403, message);

export const throttling = (): AwsError => new AwsError('Throttling', 400, AWS_MESSAGES.throttling);

export const malformedPolicyDocument = (message: string): AwsError =>
  new AwsError('MalformedPolicyDocument', 400, message);

/** `User: ARN is not authorized to perform: ACTION on resource: RESOURCE`. */
export const notAuthorized = (callerArn: string, action: string, resource: string): AwsError =>
  accessDenied(
    `User: ${callerArn} is not authorized to perform: ${action} on resource: ${resource}`,
  );
