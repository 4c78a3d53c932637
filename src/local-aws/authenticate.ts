/**
 * Who signed a request (`reference/sts-iam.md` §1.3, §1.5, §2): the SigV4 header is parsed
 * (`host` and `x-amz-date` must be among the signed headers, as the SDK always signs them, so
 * a captured request cannot be replayed under a new date), its time checked against the server clock (15 minutes either way), its scope against the
 * service, the access key looked up (unknown or Inactive keys and wrong session tokens are
 * `InvalidClientTokenId`), the signature verified, and temporary credentials checked for
 * expiry against the credential clock (`ExpiredToken`).
 */
import type { Account, Caller } from './account.js';
import {
  expiredToken,
  incompleteSignature,
  invalidClientTokenId,
  missingAuthenticationToken,
  signatureDoesNotMatch,
} from './aws-error.js';
import {
  formatAmzDate,
  type ParsedAuthorization,
  parseAmzDate,
  parseAuthorization,
  type SignableRequest,
  verifySignature,
} from './sigv4.js';

export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

function header(request: SignableRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Parses the Authorization header if there is one (for the request log); never throws. */
export function peekAuthorization(request: SignableRequest): ParsedAuthorization | undefined {
  const value = header(request, 'authorization');
  if (value === undefined) return undefined;
  try {
    return parseAuthorization(value);
  } catch {
    return undefined;
  }
}

/**
 * Authenticates a signed request to `service`. `wireNow` is the server clock the signing time
 * is checked against; `credentialNow` is the clock temporary credentials expire by.
 */
export function authenticate(
  request: SignableRequest,
  account: Account,
  service: string,
  wireNow: Date,
  credentialNow: Date,
): { caller: Caller; auth: ParsedAuthorization } {
  const authorization = header(request, 'authorization');
  if (authorization === undefined || authorization.trim() === '') {
    throw missingAuthenticationToken();
  }
  const auth = parseAuthorization(authorization);
  for (const required of ['host', 'x-amz-date']) {
    if (!auth.signedHeaders.includes(required)) {
      throw incompleteSignature(`'${required}' must be a 'SignedHeader' in the AWS Authorization.`);
    }
  }
  const amzDateText = header(request, 'x-amz-date');
  if (amzDateText === undefined) {
    throw incompleteSignature(
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
  }
  const amzDate = parseAmzDate(amzDateText.trim());
  if (amzDate === undefined) {
    throw incompleteSignature(`Invalid X-Amz-Date '${amzDateText}': expected YYYYMMDDTHHMMSSZ.`);
  }
  const skew = amzDate.getTime() - wireNow.getTime();
  if (skew < -MAX_CLOCK_SKEW_MS) {
    const limit = formatAmzDate(new Date(wireNow.getTime() - MAX_CLOCK_SKEW_MS));
    throw signatureDoesNotMatch(
      `Signature expired: ${amzDateText} is now earlier than ${limit} ` +
        `(${formatAmzDate(wireNow)} - 15 min.)`,
    );
  }
  if (skew > MAX_CLOCK_SKEW_MS) {
    const limit = formatAmzDate(new Date(wireNow.getTime() + MAX_CLOCK_SKEW_MS));
    throw signatureDoesNotMatch(
      `Signature not yet current: ${amzDateText} is still later than ${limit} ` +
        `(${formatAmzDate(wireNow)} + 15 min.)`,
    );
  }
  if (auth.scopeDate !== amzDateText.slice(0, 8)) {
    throw signatureDoesNotMatch(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from ` +
        `HTTP: '${auth.scopeDate}' != '${amzDateText.slice(0, 8)}', from 'X-Amz-Date'.`,
    );
  }
  if (auth.service !== service) {
    throw signatureDoesNotMatch(`Credential should be scoped to correct service: '${service}'. `);
  }

  const owner = account.lookupKey(auth.accessKeyId);
  if (owner === undefined) throw invalidClientTokenId();
  const token = header(request, 'x-amz-security-token');
  let secret: string;
  let caller: Caller;
  if (owner.kind === 'long-term') {
    if (owner.key.status !== 'Active' || token !== undefined) throw invalidClientTokenId();
    secret = owner.key.secretAccessKey;
    if (owner.key.userName === null) {
      caller = { kind: 'root' };
    } else {
      const user = account.getUser(owner.key.userName);
      if (user === undefined) throw invalidClientTokenId();
      caller = { kind: 'user', user };
    }
  } else {
    if (token !== owner.session.sessionToken) throw invalidClientTokenId();
    secret = owner.session.secretAccessKey;
    caller = { kind: 'session', session: owner.session };
  }

  if (!verifySignature(request, auth, amzDateText, secret)) throw signatureDoesNotMatch();
  if (caller.kind === 'session' && credentialNow.getTime() >= caller.session.expiration.getTime()) {
    throw expiredToken();
  }
  return { caller, auth };
}
