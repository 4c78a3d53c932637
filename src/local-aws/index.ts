/**
 * keyvend's local AWS endpoint — A DEVELOPMENT TOOL, NOT AWS AND NOT A PRODUCTION PATH.
 *
 * It imitates the parts of AWS STS (and, later, IAM) that keyvend uses — GetFederationToken,
 * GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity —, faithfully to
 * `reference/sts-iam.md`: the AWS Query protocol, SigV4 verification, AWS's validation rules,
 * error codes and XML envelopes, so the real `@aws-sdk/client-sts` runs against it. Tests use
 * it, and `npm start` on a fresh clone runs keyvend against it with no AWS account. Everything
 * lives in memory; the admin routes (`/_admin/*`) have no authentication; it binds to
 * 127.0.0.1 by default. Never point real clients or real secrets at it.
 *
 * Where it evaluates IAM policies it uses `@cloud-copilot/iam-simulate` (AGPL-3.0, a
 * devDependency), loaded lazily by `policy-engine.ts` only.
 *
 * @example
 * ```ts
 * const aws = await startLocalAws();
 * const id = aws.control.bootstrapKeyvendIdentity();
 * const sts = new STSClient({ region: 'us-east-1', endpoint: aws.url, credentials: id });
 * await sts.send(new GetFederationTokenCommand({ Name: 'dev-1', Policy: '…' }));
 * await aws.close();
 * ```
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Account } from './account.js';
import { handleAdminRequest } from './admin.js';
import { Control, type LocalAwsControl } from './control.js';
import { Knobs } from './knobs.js';
import { OidcProviders } from './oidc-providers.js';
import type { RequestRecord } from './request-log.js';
import { handleAwsRequest } from './server.js';
import { OidcKeyCache } from './web-identity-token.js';

export type {
  AccessKeyPair,
  AuthorizeRequest,
  AuthorizeResult,
  CreateRoleOptions,
  CreateUserOptions,
  Decision,
  FaultKind,
  KeyvendIdentity,
  LocalAwsControl,
  PolicyDocument,
  RequestRecord,
  RoleInfo,
  SessionInfo,
  Tag,
  UserInfo,
} from './control.js';
export { type SigningCredentials, signRequest } from './sigv4.js';

export interface LocalAwsOptions {
  /** Interface to bind; default `127.0.0.1`. */
  host?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** 12-digit account id; default `000000000000`. */
  accountId?: string;
  /**
   * The credential clock: issuance times and expiry checks (`setClock` / `advanceClock`
   * adjust it further). Default: the system clock.
   */
  clock?: () => Date;
  /**
   * The server's wall clock, which SigV4 times are checked against (15 minutes of skew) and
   * the `Date` header is sent from. Default: the system clock. The SDK signs with the system
   * clock, so only clock-skew tests change this.
   */
  wireClock?: () => Date;
  /** Timeout for fetching an OIDC provider's discovery document and JWKS; default 5000 ms. */
  oidcFetchTimeoutMs?: number;
  /** Where the start-up warning and internal errors go; default `console.warn`. */
  log?: (line: string) => void;
}

export interface LocalAws {
  /** Base URL, e.g. `http://127.0.0.1:41234` — give it to the SDK as `endpoint`. */
  readonly url: string;
  readonly accountId: string;
  readonly control: LocalAwsControl;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

/** The loud start-up line: this is not AWS. */
export function developmentWarning(url: string, host: string): string {
  const exposed = !['127.0.0.1', '::1', 'localhost'].includes(host)
    ? ` It listens beyond loopback (${host}): its /_admin/* routes have no authentication.`
    : '';
  return (
    `WARNING: keyvend local AWS endpoint at ${url} — DEVELOPMENT ONLY. This is not AWS: an ` +
    'in-memory imitation of STS for tests and AWS-less development. Never use it in ' +
    `production.${exposed}`
  );
}

/**
 * Starts a local STS endpoint (and its `/_admin/*` control routes) on an HTTP port.
 *
 * @example
 * ```ts
 * const aws = await startLocalAws({ log: () => {} });
 * aws.control.throttleNext(1);
 * ```
 */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const accountId = options.accountId ?? '000000000000';
  if (!/^\d{12}$/.test(accountId)) throw new Error('accountId must be 12 digits.');
  const log = options.log ?? ((line: string) => console.warn(line));
  const account = new Account(accountId);
  const knobs = new Knobs(options.clock ?? (() => new Date()));
  const oidc = new OidcProviders(accountId);
  const oidcKeys = new OidcKeyCache(options.oidcFetchTimeoutMs ?? 5_000);
  const requests: RequestRecord[] = [];
  const control = new Control(account, knobs, oidc, oidcKeys, requests);
  const state = {
    account,
    knobs,
    oidc,
    oidcKeys,
    log: requests,
    wireClock: options.wireClock ?? (() => new Date()),
    onInternalError: (error: unknown) => {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      const text = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
      log(`keyvend local AWS endpoint: internal error: ${text}`);
    },
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const work = path.startsWith('/_admin/')
      ? handleAdminRequest(req, res, control)
      : handleAwsRequest(req, res, state);
    work.catch((error: unknown) => {
      state.onInternalError(error);
      if (!res.headersSent && !res.destroyed) {
        res.statusCode = 500;
        res.end();
      }
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log(developmentWarning(url, options.host ?? '127.0.0.1'));

  return {
    url,
    accountId,
    control,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
