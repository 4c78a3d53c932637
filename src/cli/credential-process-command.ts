/**
 * `keyvend credential-process` — prints temporary AWS credentials in the JSON the AWS CLI and
 * SDKs read from a profile's `credential_process`:
 *
 *   [profile app]
 *   credential_process = keyvend credential-process --url https://kv.example.com --token-file ~/.keyvend/app.token --profile cli
 *
 * The token file holds the bare registration token (so the same file can also serve as
 * `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`). When it is absent the command registers a device
 * and writes the token (mode 0600, atomically). Credentials are cached next to it (0600) until
 * shortly before they expire, so repeated AWS CLI calls cost no request. Errors go to stderr
 * with no secret in them, and the exit code is non-zero.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isKeyvendClientError, type KeyvendClientError } from '../client/client-error.js';
import type { FetchLike } from '../client/http-api.js';
import {
  createKeyvend,
  type KeyvendCredentials,
  type KeyvendRegistration,
} from '../client/keyvend-client.js';
import type { KeyvendStorage } from '../client/storage.js';
import { type CliIo, type Command, UsageError } from './io.js';

const USAGE = `usage: keyvend credential-process --url URL --token-file FILE [--profile NAME]
       [--answer ID=VALUE]... [--ttl SECONDS] [--cache-file FILE | --no-cache]
       [--refresh-margin SECONDS]

Prints { Version: 1, AccessKeyId, SecretAccessKey, SessionToken, Expiration } for the AWS CLI's
credential_process. Registers a device (profile NAME) when FILE does not exist yet.
  --url             keyvend's URL (or KEYVEND_URL)
  --token-file      where the registration token is kept, mode 0600 (or KEYVEND_TOKEN_FILE)
  --profile         profile to register for (needed only to register)
  --answer ID=VALUE answer a registration challenge up front, e.g. --answer invite=K7Q2-XY
  --ttl             requested credential lifetime in seconds
  --cache-file      credential cache (default FILE.credentials.json); --no-cache disables it
  --refresh-margin  fetch new credentials this long before expiry (default 300)`;

/** What tests inject; the command itself uses the real clock and `fetch`. */
export interface CredentialProcessDeps {
  fetch?: FetchLike;
  clock?: () => Date;
}

interface Options {
  url: string;
  tokenFile: string;
  profile: string | undefined;
  answers: Record<string, unknown>;
  ttl: number | undefined;
  cacheFile: string | undefined;
  marginSeconds: number;
}

/** The `credential_process` JSON (Version 1). */
interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
  AccountId?: string;
}

interface CacheFile {
  v: 1;
  url: string;
  /** SHA-256 of the token the credentials were vended for: a new token invalidates them. */
  tokenHash: string;
  credentials: ProcessCredentials;
}

export const run: Command = (args, io) => runCredentialProcess(args, io);

/** `run` with injectable `fetch` and clock. */
export async function runCredentialProcess(
  args: string[],
  io: CliIo,
  deps: CredentialProcessDeps = {},
): Promise<number> {
  const options = parseOptions(args, io);
  const clock = deps.clock ?? (() => new Date());
  const fail = (message: string) => {
    io.stderr(`keyvend credential-process: ${message}\n`);
    return 1;
  };

  let token: string | undefined;
  try {
    token = await readToken(options.tokenFile);
  } catch (err) {
    return fail(`cannot read the token file ${options.tokenFile}: ${describeFsError(err)}`);
  }
  const claims = token === undefined ? {} : decodeClaims(token);
  const profile = options.profile ?? claims.profile;
  if (token === undefined && profile === undefined) {
    throw new UsageError(
      `no token file at ${options.tokenFile}; pass --profile to register a device\n${USAGE}`,
    );
  }

  if (token !== undefined && options.cacheFile !== undefined) {
    const hit = await readCache(options, token, clock());
    if (hit !== undefined) {
      io.stdout(`${JSON.stringify(hit)}\n`);
      return 0;
    }
  }

  const client = createKeyvend({
    url: options.url,
    profile: profile ?? '',
    storage: tokenFileStorage(options.tokenFile, options.url, profile ?? ''),
    answers: options.answers,
    refreshMarginSeconds: options.marginSeconds,
    clock,
    ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });

  let credentials: KeyvendCredentials;
  try {
    credentials = await client.credentials();
  } catch (err) {
    if (isKeyvendClientError(err)) return fail(explain(err, options, profile));
    return fail((err as Error).message);
  }

  const output: ProcessCredentials = {
    Version: 1,
    AccessKeyId: credentials.accessKeyId,
    SecretAccessKey: credentials.secretAccessKey,
    SessionToken: credentials.sessionToken,
    Expiration: credentials.expiration.toISOString(),
    ...(credentials.accountId === undefined ? {} : { AccountId: credentials.accountId }),
  };
  if (options.cacheFile !== undefined) {
    try {
      const current = await readToken(options.tokenFile);
      if (current !== undefined) {
        const entry: CacheFile = {
          v: 1,
          url: options.url,
          tokenHash: sha256(current),
          credentials: output,
        };
        await writeAtomic(options.cacheFile, JSON.stringify(entry));
      }
    } catch (err) {
      // The credentials are good; a cache that cannot be written only costs a request next time.
      io.stderr(
        `keyvend credential-process: warning: cannot write the cache ${options.cacheFile}: ${describeFsError(err)}\n`,
      );
    }
  }
  io.stdout(`${JSON.stringify(output)}\n`);
  return 0;
}

function parseOptions(args: string[], io: CliIo): Options {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) throw new UsageError(USAGE);
  const url = values.url ?? io.env.KEYVEND_URL;
  const tokenFile = values['token-file'] ?? io.env.KEYVEND_TOKEN_FILE;
  if (url === undefined || url === '') throw new UsageError(`--url is required\n${USAGE}`);
  if (tokenFile === undefined || tokenFile === '') {
    throw new UsageError(`--token-file is required\n${USAGE}`);
  }
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL`);
  }
  if (parsedUrl.protocol !== 'https:' && parsedUrl.protocol !== 'http:') {
    throw new UsageError('--url must be an http(s) URL');
  }
  const answers: Record<string, unknown> = {};
  for (const pair of values.answer ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--answer ${JSON.stringify(pair)}: expected ID=VALUE`);
    answers[pair.slice(0, eq)] = answerValue(pair.slice(eq + 1));
  }
  const resolvedTokenFile = resolve(io.cwd, tokenFile);
  return {
    url: url.replace(/\/+$/, ''),
    tokenFile: resolvedTokenFile,
    profile: values.profile,
    answers,
    ttl: values.ttl === undefined ? undefined : seconds('--ttl', values.ttl),
    cacheFile: values['no-cache']
      ? undefined
      : resolve(io.cwd, values['cache-file'] ?? `${resolvedTokenFile}.credentials.json`),
    marginSeconds:
      values['refresh-margin'] === undefined
        ? 300
        : seconds('--refresh-margin', values['refresh-margin']),
  };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      url: { type: 'string' },
      'token-file': { type: 'string' },
      profile: { type: 'string' },
      answer: { type: 'string', multiple: true },
      ttl: { type: 'string' },
      'cache-file': { type: 'string' },
      'no-cache': { type: 'boolean' },
      'refresh-margin': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function seconds(flag: string, value: string): number {
  if (!/^[0-9]{1,7}$/.test(value))
    throw new UsageError(`${flag} must be a whole number of seconds`);
  return Number(value);
}

/** `--answer id={"code":"x"}` sends JSON; anything else is sent as a string. */
function answerValue(text: string): unknown {
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // Not JSON after all: send the text.
    }
  }
  return text;
}

/** What the user should do about each error; never includes the token or a credential. */
function explain(err: KeyvendClientError, options: Options, profile: string | undefined): string {
  switch (err.code) {
    case 'KEYVEND_CLIENT_CHALLENGE_UNANSWERED': {
      const challenge = err.challenges?.[0];
      const what = challenge ? `a ${challenge.type} challenge ("${challenge.id}")` : 'a challenge';
      const hint =
        challenge?.type === 'captcha'
          ? 'A captcha needs a screen, which credential-process does not have: register from an app or browser that can show one, or ask your keyvend operator for a registration token,'
          : `Answer it with --answer ${challenge?.id ?? 'ID'}=VALUE, or ask your keyvend operator for a registration token,`;
      return `registering a device for profile "${profile}" needs ${what}. ${hint} and save the token in ${options.tokenFile} (mode 0600).`;
    }
    case 'KEYVEND_DEVICE_DISABLED':
      return `the keyvend operator has disabled this device (KEYVEND_DEVICE_DISABLED). Ask them to enable it, or delete ${options.tokenFile} to register a new device.`;
    case 'KEYVEND_PROOF_REQUIRED':
      return 'this registration token is key-bound (DPoP), which credential-process cannot use (KEYVEND_PROOF_REQUIRED). Use an unbound token.';
    case 'KEYVEND_UNKNOWN_PROFILE':
      return `keyvend has no profile "${profile}" (KEYVEND_UNKNOWN_PROFILE); check --profile.`;
    case 'KEYVEND_CLIENT_NETWORK':
      return `${err.message} Check --url ${options.url}.`;
    default: {
      const wait = err.retryAfter === undefined ? '' : ` Retry in ${err.retryAfter} s.`;
      return `${err.message} (${err.code}${err.status === undefined ? '' : `, HTTP ${err.status}`}).${wait}`;
    }
  }
}

/**
 * The client's storage over one file holding the bare token. The client never keeps a key pair
 * here (credential-process does not do key-bound devices), so only the registration is stored.
 */
function tokenFileStorage(file: string, url: string, profile: string): KeyvendStorage {
  const isRegistration = (key: string) => key.endsWith(':registration');
  return {
    async get(key) {
      if (!isRegistration(key)) return undefined;
      const token = await readToken(file);
      if (token === undefined) return undefined;
      const claims = decodeClaims(token);
      const registration: KeyvendRegistration = {
        deviceId: claims.deviceId ?? 'unknown',
        profile,
        token,
        tokenExpiresAt: new Date((claims.exp ?? 32_503_680_000) * 1000).toISOString(),
        keyBound: false,
        url,
      };
      return registration;
    },
    async set(key, value) {
      if (!isRegistration(key)) {
        throw new Error('credential-process keeps only the registration token');
      }
      await writeAtomic(file, (value as KeyvendRegistration).token);
    },
    async delete(key) {
      if (!isRegistration(key)) return;
      // The client drops a token refused for good and registers anew, which needs a profile.
      if (profile === '') {
        throw new Error(
          `keyvend refused the token in ${file} for good; pass --profile to register a new device.`,
        );
      }
      await rm(file, { force: true });
    },
  };
}

async function readToken(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const token = text.trim();
  return token === '' ? undefined : token;
}

/** What the token says about itself (unverified: only to name the profile and expiry). */
function decodeClaims(token: string): { deviceId?: string; profile?: string; exp?: number } {
  const payload = token.split('.')[1];
  if (payload === undefined) return {};
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    return {
      ...(typeof claims.sub === 'string' ? { deviceId: claims.sub } : {}),
      ...(typeof claims.profile === 'string' ? { profile: claims.profile } : {}),
      ...(typeof claims.exp === 'number' ? { exp: claims.exp } : {}),
    };
  } catch {
    return {};
  }
}

async function readCache(
  options: Options,
  token: string,
  now: Date,
): Promise<ProcessCredentials | undefined> {
  if (options.cacheFile === undefined) return undefined;
  let entry: Partial<CacheFile>;
  try {
    entry = JSON.parse(await readFile(options.cacheFile, 'utf8')) as Partial<CacheFile>;
  } catch {
    return undefined;
  }
  const c = entry.credentials;
  if (
    entry.v !== 1 ||
    entry.url !== options.url ||
    entry.tokenHash !== sha256(token) ||
    typeof c !== 'object' ||
    c === null ||
    typeof c.AccessKeyId !== 'string' ||
    typeof c.SecretAccessKey !== 'string' ||
    typeof c.SessionToken !== 'string' ||
    typeof c.Expiration !== 'string'
  ) {
    return undefined;
  }
  const remaining = Date.parse(c.Expiration) - now.getTime();
  if (!(remaining > options.marginSeconds * 1000)) return undefined;
  return c;
}

/** Writes `text` to `file` with mode 0600: a private temp file, then an atomic rename. */
async function writeAtomic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, text, { mode: 0o600, flag: 'wx' });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ?? (err as Error).message;
}
