/**
 * The one error `keyvend/client` throws. A refusal from the server keeps the server's stable
 * code (`KEYVEND_DEVICE_DISABLED`, `KEYVEND_STS_THROTTLED`, …), its HTTP status and its
 * `Retry-After`; problems found on the device itself use `KEYVEND_CLIENT_*` codes. Messages
 * never contain a token or a credential.
 */
import type { ErrorCode } from '../errors.js';

/** Codes raised by the client library itself, never sent by a server. */
export type ClientErrorCode =
  /** The server could not be reached, or the request timed out. */
  | 'KEYVEND_CLIENT_NETWORK'
  /** The server answered something that is not keyvend's API (wrong URL, proxy page…). */
  | 'KEYVEND_CLIENT_BAD_RESPONSE'
  /** Registration needs a challenge the app did not answer (no `onChallenge`, or it gave up). */
  | 'KEYVEND_CLIENT_CHALLENGE_UNANSWERED'
  /** The storage cannot hold what the client must keep (a `CryptoKey` in `localStorage`). */
  | 'KEYVEND_CLIENT_STORAGE_UNSUPPORTED'
  /** A required platform feature is missing (`fetch`, WebCrypto). */
  | 'KEYVEND_CLIENT_UNSUPPORTED'
  /** The caller's `AbortSignal` fired. */
  | 'KEYVEND_CLIENT_ABORTED';

/** Every code a `KeyvendClientError` can carry: the server's (see its error table) or the client's. */
// `string & {}` keeps codes from a newer server usable without losing autocompletion.
export type KeyvendErrorCode = ErrorCode | ClientErrorCode | (string & {});

/** A challenge the server asks a registering device to solve. */
export interface KeyvendChallenge {
  /** Validator type: `captcha`, `proof-of-work`, `oidc`, `invite`, … */
  type: string;
  /** Key under which the answer is sent. */
  id: string;
  [detail: string]: unknown;
}

export interface KeyvendClientErrorOptions {
  /** HTTP status of the server's answer; undefined for errors raised on the device. */
  status?: number | undefined;
  /** Seconds the server asked the client to wait (`Retry-After`), when it said. */
  retryAfter?: number | undefined;
  /** Open challenges, for `KEYVEND_CHALLENGE_REQUIRED` and `KEYVEND_CLIENT_CHALLENGE_UNANSWERED`. */
  challenges?: KeyvendChallenge[] | undefined;
  /** Other fields of the server's error envelope. */
  details?: Record<string, unknown> | undefined;
  cause?: unknown;
}

/**
 * An error from `keyvend/client`. Switch on `code`, which is stable.
 *
 * @example
 * ```ts
 * try {
 *   await keyvend.credentials();
 * } catch (err) {
 *   if (err instanceof KeyvendClientError && err.code === 'KEYVEND_DEVICE_DISABLED') {
 *     showBanner('This installation has been switched off by the operator.');
 *   } else if (err instanceof KeyvendClientError && err.retryAfter !== undefined) {
 *     setTimeout(retry, err.retryAfter * 1000);
 *   } else throw err;
 * }
 * ```
 */
export class KeyvendClientError extends Error {
  override readonly name = 'KeyvendClientError';
  readonly code: KeyvendErrorCode;
  /** HTTP status of the server's answer; undefined when the error arose on the device. */
  readonly status: number | undefined;
  /** Seconds to wait before retrying, from the server's `Retry-After`. */
  readonly retryAfter: number | undefined;
  /** The challenges still open (registration errors only). */
  readonly challenges: KeyvendChallenge[] | undefined;
  /** Extra fields of the server's error envelope. */
  readonly details: Record<string, unknown>;

  constructor(code: KeyvendErrorCode, message: string, options: KeyvendClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
    this.challenges = options.challenges;
    this.details = options.details ?? {};
  }

  /** True for answers worth retrying later: throttling, an unavailable dependency, the network. */
  get retryable(): boolean {
    return (
      this.code === 'KEYVEND_CLIENT_NETWORK' ||
      this.status === 429 ||
      this.status === 503 ||
      this.status === 504
    );
  }
}

/** Type guard for `KeyvendClientError`, also across bundles that each carry their own copy. */
export function isKeyvendClientError(value: unknown): value is KeyvendClientError {
  return (
    value instanceof KeyvendClientError ||
    (value instanceof Error &&
      value.name === 'KeyvendClientError' &&
      typeof (value as { code?: unknown }).code === 'string')
  );
}
