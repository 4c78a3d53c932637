/**
 * The log of AWS requests the local endpoint received, for tests to assert on: action, parsed
 * parameters, signing region and service, the SDK's `amz-sdk-request` attempt numbers, the
 * access key id, and the result. Secret-bearing parameters (`WebIdentityToken`) are masked.
 */

/** One received AWS request. */
export interface RequestRecord {
  requestId: string;
  /** Wall-clock receive time. */
  receivedAt: Date;
  /** The service the request was routed to. */
  service: 'sts' | 'iam' | undefined;
  action: string | undefined;
  params: Record<string, string>;
  /** Region and service of the SigV4 credential scope, when signed. */
  signingRegion: string | undefined;
  signingService: string | undefined;
  /** From `amz-sdk-request: attempt=N; max=M`. */
  attempt: number | undefined;
  maxAttempts: number | undefined;
  /** `amz-sdk-invocation-id`: the same on every retry of one call. */
  invocationId: string | undefined;
  accessKeyId: string | undefined;
  /** HTTP status, or undefined when the connection was reset or left hanging. */
  status: number | undefined;
  /** `OK`, an AWS error code, or `ConnectionReset` / `Timeout` for injected faults. */
  code: string;
}

const MASKED = new Set(['WebIdentityToken', 'SAMLAssertion']);

/** Parameters for the log, secrets masked. */
export function loggableParams(entries: [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of entries) out[key] = MASKED.has(key) ? '***' : value;
  return out;
}

/** Parses `attempt=2; max=3`. */
export function parseSdkRequestHeader(value: string | undefined): {
  attempt: number | undefined;
  max: number | undefined;
} {
  const attempt = value === undefined ? undefined : /attempt=(\d+)/.exec(value)?.[1];
  const max = value === undefined ? undefined : /max=(\d+)/.exec(value)?.[1];
  return {
    attempt: attempt === undefined ? undefined : Number(attempt),
    max: max === undefined ? undefined : Number(max),
  };
}
