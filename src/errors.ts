/**
 * Every error keyvend can answer with, in one table, and the one error class that carries a
 * code from it. Handlers throw `KeyvendError`; the error handler in `app.ts` turns it into the
 * JSON envelope `{ error: { code, message, ...details } }`. Codes are stable: clients switch
 * on them, and the README's error table lists every one (a test keeps the two in step).
 *
 * 4xx codes are the caller's mistake and their message is shown; 5xx codes are keyvend's or a
 * dependency's failure, their message is generic and the original error stays as `cause`
 * for the log.
 */

export const ERRORS = {
  // Request shape
  KEYVEND_BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  KEYVEND_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  KEYVEND_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'The request body must be application/json.',
  },
  KEYVEND_NOT_FOUND: { status: 404, message: 'No such route.' },
  KEYVEND_UNKNOWN_PROFILE: { status: 400, message: 'No such profile.' },
  KEYVEND_RATE_LIMITED: { status: 429, message: 'Too many requests; retry later.' },

  // Registration tokens and devices
  KEYVEND_TOKEN_MISSING: {
    status: 401,
    message: 'A registration token is required: Authorization: Bearer <token>.',
  },
  KEYVEND_TOKEN_INVALID: { status: 401, message: 'The registration token is not valid.' },
  KEYVEND_TOKEN_EXPIRED: { status: 401, message: 'The registration token has expired.' },
  KEYVEND_TOKEN_WRONG_AUDIENCE: {
    status: 401,
    message: 'The registration token was not issued for this keyvend.',
  },
  KEYVEND_DEVICE_NOT_FOUND: {
    status: 401,
    message: 'The device this token was issued to does not exist.',
  },
  KEYVEND_DEVICE_DISABLED: { status: 403, message: 'This device has been disabled.' },
  KEYVEND_PROFILE_MISMATCH: {
    status: 403,
    message: 'The registration token belongs to another profile.',
  },

  // Proof of possession (key-bound devices)
  KEYVEND_PROOF_REQUIRED: {
    status: 401,
    message: 'This device is key-bound: each request needs a DPoP proof.',
  },
  KEYVEND_PROOF_INVALID: { status: 401, message: 'The DPoP proof is not valid.' },
  KEYVEND_PROOF_REPLAYED: { status: 401, message: 'The DPoP proof has already been used.' },
  KEYVEND_PROOF_KEY_MISMATCH: {
    status: 401,
    message: 'The DPoP proof is signed by a key the token is not bound to.',
  },
  KEYVEND_PUBLIC_KEY_INVALID: {
    status: 400,
    message: 'The public key must be an ES256 or EdDSA public JWK.',
  },
  KEYVEND_PUBLIC_KEY_REQUIRED: {
    status: 400,
    message: 'This profile requires key-bound devices: register with a public key.',
  },

  // Validators
  KEYVEND_CHALLENGE_REQUIRED: {
    status: 401,
    message: 'Registration needs the answers to these challenges.',
  },
  KEYVEND_VALIDATION_DENIED: { status: 403, message: 'Registration was refused.' },
  KEYVEND_CAPTCHA_FAILED: { status: 403, message: 'The captcha answer was not accepted.' },
  KEYVEND_VALIDATOR_UNAVAILABLE: {
    status: 503,
    message: 'A registration check could not be completed; retry later.',
  },
  KEYVEND_POW_INVALID: { status: 403, message: 'The proof-of-work answer is not valid.' },
  KEYVEND_POW_EXPIRED: { status: 403, message: 'The proof-of-work challenge has expired.' },
  KEYVEND_POW_REPLAYED: {
    status: 403,
    message: 'The proof-of-work challenge has already been used.',
  },
  KEYVEND_OIDC_TOKEN_INVALID: { status: 403, message: 'The ID token is not valid.' },
  KEYVEND_OIDC_TOKEN_EXPIRED: { status: 403, message: 'The ID token has expired.' },
  KEYVEND_OIDC_WRONG_AUDIENCE: {
    status: 403,
    message: 'The ID token was issued for another audience.',
  },
  KEYVEND_OIDC_WRONG_ISSUER: {
    status: 403,
    message: 'The ID token comes from an issuer this profile does not trust.',
  },
  KEYVEND_OIDC_UNKNOWN_KEY: {
    status: 403,
    message: "The ID token is signed with a key not in the issuer's JWKS.",
  },
  KEYVEND_OIDC_ALG_NOT_ALLOWED: {
    status: 403,
    message: 'The ID token is signed with an algorithm this profile does not allow.',
  },
  KEYVEND_OIDC_NONCE_MISMATCH: {
    status: 403,
    message: 'The ID token nonce does not match.',
  },
  KEYVEND_OIDC_CLAIM_REJECTED: {
    status: 403,
    message: "The ID token's claims do not satisfy this profile's rules.",
  },
  KEYVEND_INVITE_INVALID: { status: 403, message: 'The invite code is not valid.' },
  KEYVEND_INVITE_EXHAUSTED: { status: 403, message: 'The invite code has been used up.' },
  KEYVEND_INVITE_EXPIRED: { status: 403, message: 'The invite code has expired.' },
  KEYVEND_NETWORK_DENIED: {
    status: 403,
    message: 'Registration is not allowed from this network address.',
  },
  KEYVEND_REGISTRATION_QUOTA: {
    status: 429,
    message: 'Too many registrations from this address; retry later.',
  },
  KEYVEND_APP_SECRET_INVALID: {
    status: 403,
    message: 'The app signature is not valid.',
  },
  KEYVEND_APP_SECRET_REPLAYED: {
    status: 403,
    message: 'The app signature has already been used or is too old.',
  },

  // Issuing credentials
  KEYVEND_TTL_INVALID: {
    status: 400,
    message: 'ttl must be a whole number of seconds.',
  },
  KEYVEND_CREDENTIALS_NOT_ISSUED: {
    status: 409,
    message:
      "This profile hands out web-identity tokens for the device's own STS call; it issues no credentials.",
  },
  KEYVEND_STS_THROTTLED: { status: 503, message: 'AWS STS is throttling keyvend; retry later.' },
  KEYVEND_STS_UNAVAILABLE: {
    status: 503,
    message: 'AWS STS cannot be reached right now; retry later.',
  },
  KEYVEND_AWS_ACCESS_DENIED: {
    status: 502,
    message: "keyvend's own AWS identity lacks the permission to issue these credentials.",
  },
  KEYVEND_AWS_CREDENTIALS_INVALID: {
    status: 502,
    message: "keyvend's own AWS credentials are missing, invalid or expired.",
  },
  KEYVEND_POLICY_REJECTED: {
    status: 502,
    message: "AWS rejected the profile's policy template.",
  },
  KEYVEND_AWS_ERROR: { status: 502, message: 'AWS answered with an unexpected error.' },
  KEYVEND_SESSION_TAGS_INVALID: {
    status: 403,
    message: "This device's attributes do not fit AWS's session-tag rules.",
  },
  KEYVEND_WEB_IDENTITY_REJECTED: {
    status: 502,
    message: "AWS refused keyvend's own ID token; check the role's trust policy and OIDC provider.",
  },

  // Operations
  KEYVEND_NOT_READY: { status: 503, message: 'keyvend is not ready: its store does not answer.' },

  // Storage
  KEYVEND_STORE_UNAVAILABLE: {
    status: 503,
    message: 'keyvend cannot reach its database right now; retry later.',
  },

  // Catch-all
  KEYVEND_INTERNAL: { status: 500, message: 'keyvend failed to handle the request.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface KeyvendErrorOptions {
  /** The underlying error: logged, never sent to the client. */
  cause?: unknown;
  /** Extra fields placed in the JSON envelope next to `code` and `message` (4xx only). */
  details?: Record<string, unknown>;
  /** Extra response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>;
}

/**
 * The one error keyvend throws for anything a client should see as a coded answer.
 *
 * @example
 * ```ts
 * throw new KeyvendError('KEYVEND_DEVICE_DISABLED');
 * throw new KeyvendError('KEYVEND_STS_THROTTLED', undefined, { headers: { 'retry-after': '2' } });
 * ```
 */
export class KeyvendError extends Error {
  override readonly name = 'KeyvendError';
  readonly code: ErrorCode;
  readonly statusCode: number;
  /** Whether `message` may be shown to the client: true below 500. */
  readonly expose: boolean;
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message?: string, options: KeyvendErrorOptions = {}) {
    super(message ?? ERRORS[code].message, { cause: options.cause });
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.expose = this.statusCode < 500;
    this.details = options.details;
    this.headers = options.headers;
  }
}

export function isKeyvendError(value: unknown): value is KeyvendError {
  return value instanceof KeyvendError;
}

/**
 * A start-up problem an operator must fix: a bad config value, a template that does not
 * lint. The message names the file and the key; keyvend prints it and exits.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly file: string;
  readonly problems: string[];

  constructor(file: string, problems: string[]) {
    super(problems.map((p) => `${file}: ${p}`).join('\n'));
    this.file = file;
    this.problems = problems;
  }
}
