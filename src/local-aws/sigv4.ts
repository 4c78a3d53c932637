/**
 * AWS Signature Version 4, header form, as the local AWS endpoint checks it
 * (`reference/sts-iam.md` §1.3): parse the `Authorization` header, rebuild the canonical
 * request from exactly the headers the client listed in `SignedHeaders`, and compare the
 * HMAC chain's result in constant time. `signRequest` produces the same signature for raw-HTTP
 * tests and scripts that do not use an AWS SDK.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { incompleteSignature } from './aws-error.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

/** The parts of a SigV4 `Authorization` header. */
export interface ParsedAuthorization {
  accessKeyId: string;
  /** `yyyymmdd` from the credential scope. */
  scopeDate: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** What a signature is computed over. Header names must be lowercase. */
export interface SignableRequest {
  method: string;
  /** The path and query exactly as sent on the wire, e.g. `/` or `/a%20b?x=1`. */
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: string | Buffer;
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding, as smithy's `escapeUri` does it (also `!'()*`). */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 * SignedHeaders=a;b, Signature=HEX`. Throws `IncompleteSignature` when it is not that shape.
 */
export function parseAuthorization(header: string): ParsedAuthorization {
  const trimmed = header.trim();
  if (!trimmed.startsWith(`${SIGV4_ALGORITHM} `)) {
    throw incompleteSignature(
      `Authorization header requires the algorithm ${SIGV4_ALGORITHM} and the parameters ` +
        'Credential, SignedHeaders and Signature.',
    );
  }
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(SIGV4_ALGORITHM.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((k) => !fields.get(k));
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw incompleteSignature(
      `Authorization header requires '${missing.join("', '")}' parameter(s).`,
    );
  }
  const scope = credential.split('/');
  const [accessKeyId, scopeDate, region, service, terminator] = scope;
  if (
    scope.length !== 5 ||
    !accessKeyId ||
    !scopeDate ||
    !/^\d{8}$/.test(scopeDate) ||
    !region ||
    !service ||
    terminator !== 'aws4_request'
  ) {
    throw incompleteSignature(
      "Credential must have the form '<access key id>/<yyyymmdd>/<region>/<service>/aws4_request'.",
    );
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) {
    throw incompleteSignature('Signature must be 64 lowercase hexadecimal characters.');
  }
  return {
    accessKeyId,
    scopeDate,
    region,
    service,
    signedHeaders: signedHeaders.split(';').map((h) => h.trim().toLowerCase()),
    signature,
  };
}

/** Parses `YYYYMMDDTHHMMSSZ`; undefined when malformed. */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** `Date` → `YYYYMMDDTHHMMSSZ`. */
export function formatAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment.length === 0 || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = safeDecode(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? '' : safeDecode(part.slice(eq + 1));
    if (key.toLowerCase() === 'x-amz-signature') continue;
    pairs.push([escapeUri(key), escapeUri(value)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function headerValue(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  return joined.trim().replace(/\s+/g, ' ');
}

/**
 * The canonical request over `signedHeaders`; undefined when a signed header is absent from
 * the request (so the signature cannot be right).
 */
export function canonicalRequest(
  request: SignableRequest,
  signedHeaders: readonly string[],
  payloadHash: string,
): string | undefined {
  const q = request.url.indexOf('?');
  const path = q === -1 ? request.url : request.url.slice(0, q);
  const query = q === -1 ? '' : request.url.slice(q + 1);
  const lines: string[] = [];
  for (const name of [...signedHeaders].sort()) {
    const value = headerValue(request.headers[name]);
    if (value === undefined) return undefined;
    lines.push(`${name}:${value}\n`);
  }
  return [
    request.method.toUpperCase(),
    canonicalUri(path),
    canonicalQuery(query),
    lines.join(''),
    [...signedHeaders].sort().join(';'),
    payloadHash,
  ].join('\n');
}

/** `kSigning` from the secret and the credential scope. */
export function signingKey(
  secretAccessKey: string,
  scopeDate: string,
  region: string,
  service: string,
): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, scopeDate);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

function computeSignature(
  canonical: string,
  amzDate: string,
  secretAccessKey: string,
  scope: { scopeDate: string; region: string; service: string },
): string {
  const credentialScope = `${scope.scopeDate}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = [SIGV4_ALGORITHM, amzDate, credentialScope, sha256Hex(canonical)].join('\n');
  const key = signingKey(secretAccessKey, scope.scopeDate, scope.region, scope.service);
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

/**
 * Whether `auth.signature` is the right SigV4 signature of `request` under `secretAccessKey`.
 * The payload hash is the `x-amz-content-sha256` header when sent, else the body's hash; a
 * header that disagrees with the body fails the check.
 */
export function verifySignature(
  request: SignableRequest,
  auth: ParsedAuthorization,
  amzDate: string,
  secretAccessKey: string,
): boolean {
  const bodyHash = sha256Hex(request.body);
  const declared = headerValue(request.headers['x-amz-content-sha256']);
  if (declared !== undefined && declared !== bodyHash) return false;
  const canonical = canonicalRequest(request, auth.signedHeaders, bodyHash);
  if (canonical === undefined) return false;
  const expected = Buffer.from(computeSignature(canonical, amzDate, secretAccessKey, auth), 'utf8');
  const given = Buffer.from(auth.signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Credentials `signRequest` signs with. */
export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Signs a request the way SDK v3 does (every header given is signed) and returns the headers
 * to send: the given ones plus `x-amz-date`, `x-amz-content-sha256` (unless
 * `contentSha256Header` is false), `x-amz-security-token` when there is a session token, and
 * `authorization`.
 */
export function signRequest(
  request: SignableRequest & { headers: Record<string, string> },
  credentials: SigningCredentials,
  scope: { region: string; service: string; date?: Date; contentSha256Header?: boolean },
): Record<string, string> {
  const amzDate = formatAmzDate(scope.date ?? new Date());
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  headers['x-amz-date'] = amzDate;
  if (scope.contentSha256Header !== false)
    headers['x-amz-content-sha256'] = sha256Hex(request.body);
  if (credentials.sessionToken !== undefined) {
    headers['x-amz-security-token'] = credentials.sessionToken;
  }
  const signed = Object.keys(headers).sort();
  const canonical = canonicalRequest({ ...request, headers }, signed, sha256Hex(request.body));
  if (canonical === undefined) throw new Error('unreachable: every header is present');
  const fullScope = {
    scopeDate: amzDate.slice(0, 8),
    region: scope.region,
    service: scope.service,
  };
  const signature = computeSignature(canonical, amzDate, credentials.secretAccessKey, fullScope);
  headers.authorization =
    `${SIGV4_ALGORITHM} Credential=${credentials.accessKeyId}/${fullScope.scopeDate}/` +
    `${scope.region}/${scope.service}/aws4_request, SignedHeaders=${signed.join(';')}, ` +
    `Signature=${signature}`;
  return headers;
}
