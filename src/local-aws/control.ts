/**
 * The control surface of the local AWS endpoint: seeding identities, turning test knobs, and
 * reading what happened. Tests call it in-process (`localAws.control`); the same methods answer
 * as JSON under `/_admin/*` on the endpoint's own port (`admin.ts`), apart from the AWS paths.
 * Every knob defaults to AWS's behaviour.
 */
import type { Account, IamUser, Session, Tag } from './account.js';
import { AwsError, invalidClientTokenId } from './aws-error.js';
import type { FaultKind, Knobs } from './knobs.js';
import type { OidcProviders } from './oidc-providers.js';
import type { PolicyDocument } from './policy-document.js';
import type { Decision } from './policy-engine.js';
import { decide, principalFacts } from './principal-context.js';
import type { RequestRecord } from './request-log.js';
import type { OidcKeyCache } from './web-identity-token.js';

export type { Tag } from './account.js';
export type { FaultKind } from './knobs.js';
export type { PolicyDocument } from './policy-document.js';
export type { Decision } from './policy-engine.js';
export type { RequestRecord } from './request-log.js';

/** A long-term key pair. The secret is shown only here, as IAM does. */
export interface AccessKeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface CreateUserOptions {
  /** Inline identity policies (documents or JSON text). */
  policies?: (PolicyDocument | string)[];
  /** IAM path, `/` by default; it becomes part of the ARN. */
  path?: string;
  tags?: Tag[];
}

export interface UserInfo {
  userName: string;
  userId: string;
  arn: string;
  path: string;
}

/** The IAM identity keyvend's embedded default runs as. */
export interface KeyvendIdentity extends AccessKeyPair {
  userName: string;
  arn: string;
}

/** What tests may inspect about issued temporary credentials (no secrets). */
export interface SessionInfo {
  kind: 'federated-user' | 'assumed-role';
  accessKeyId: string;
  principalArn: string;
  /** `aws:userid` of the session. */
  principalId: string;
  name: string;
  /** The inline session policy exactly as sent, or undefined. */
  policy: string | undefined;
  policyArns: string[];
  tags: Tag[];
  transitiveTagKeys: string[];
  sourceIdentity: string | undefined;
  issuedAt: Date;
  expiration: Date;
  /** The IAM user that asked for a federation token (null for root), or undefined. */
  parentUserName: string | null | undefined;
  roleName: string | undefined;
}

export interface CreateRoleOptions {
  /** Who may assume the role (a policy with Principal). */
  trustPolicy: PolicyDocument | string;
  /** Inline identity policies of the role. */
  policies?: (PolicyDocument | string)[];
  /** Managed policies (from `createPolicy`) attached to the role. */
  policyArns?: string[];
  /** Seconds, 3600–43200; default 3600. */
  maxSessionDuration?: number;
  tags?: Tag[];
  path?: string;
}

export interface RoleInfo {
  roleName: string;
  /** `AROA…`. */
  roleId: string;
  arn: string;
  maxSessionDuration: number;
}

/** A question for `authorize`: may these credentials do this? */
export interface AuthorizeRequest {
  accessKeyId: string;
  /** e.g. `s3:GetObject`. */
  action: string;
  /** e.g. `arn:aws:s3:::bucket/devices/123456789012:dev-1/photo.jpg`. */
  resource: string;
  /** Extra request context keys, e.g. `{ 's3:prefix': 'devices/…' }`. */
  context?: Record<string, string | string[]>;
}

export interface AuthorizeResult {
  decision: Decision;
  principalArn: string;
  principalType: 'Account' | 'User' | 'FederatedUser' | 'AssumedRole';
  /** True when the credentials have expired (the decision is then ImplicitlyDenied). */
  expired: boolean;
  /** The principal context keys the decision was made with (`aws:userid`, …). */
  principalContext: Record<string, string>;
}

/** The control methods (in-process; the admin routes mirror them). */
export interface LocalAwsControl {
  readonly accountId: string;
  createUser(name: string, options?: CreateUserOptions): UserInfo;
  createAccessKey(userName: string): AccessKeyPair;
  /** Access keys of the account root (root is not subject to identity policies). */
  createRootAccessKey(): AccessKeyPair;
  updateAccessKey(accessKeyId: string, status: 'Active' | 'Inactive'): void;
  deleteAccessKey(accessKeyId: string): void;
  putUserPolicy(userName: string, policyName: string, policy: PolicyDocument | string): void;
  /** A customer managed policy; returns its ARN (usable in `PolicyArns`). */
  createPolicy(name: string, policy: PolicyDocument | string): { arn: string };
  attachUserPolicy(userName: string, policyArn: string): void;
  /**
   * Creates IAM user `keyvend` allowed `sts:GetFederationToken` and `sts:TagSession` on
   * `arn:aws:sts::ACCOUNT:federated-user/*`, with one access key. Calling it again returns the
   * same identity (options are then ignored). A federation token can never do more than its
   * IAM user may, so `delegate` adds inline policies with the rights keyvend's sessions should
   * be able to use (what `authorize` then reports as Allowed).
   */
  bootstrapKeyvendIdentity(options?: { delegate?: (PolicyDocument | string)[] }): KeyvendIdentity;
  /** Answers the next `n` STS requests with `Throttling`. */
  throttleNext(n: number): void;
  /** The STS token bucket (default 600/s, burst 600). */
  setRateLimit(limit: { ratePerSecond: number; burst: number }): void;
  /**
   * The next `n` AWS requests fail: `internal` answers 500 InternalFailure (ServiceFailure for
   * IAM), `reset` destroys the socket, `timeout` never answers until the client gives up.
   */
  failNext(n: number, kind: FaultKind): void;
  /** Delay added before every AWS answer. */
  setLatency(ms: number): void;
  forcePackedPolicyTooLarge(force: boolean): void;
  /** The packed-size budget in estimate units (default 2048; see `packed-size.ts`). */
  setPackedBudget(units: number): void;
  /** STS answers RegionDisabledException for requests signed for `region`. */
  setRegionDisabled(region: string, disabled: boolean): void;
  /** Fixes the credential clock (null: back to the configured clock). */
  setClock(date: Date | string | null): void;
  /** Moves the credential clock forward (or back, for negative `ms`). */
  advanceClock(ms: number): void;
  /** The credential clock's current time. */
  now(): Date;
  requests(): RequestRecord[];
  clearRequests(): void;
  /** How many STS requests (every attempt) were received, optionally of one action. */
  stsCallCount(action?: string): number;
  sessions(): SessionInfo[];
  /** A role for AssumeRole / AssumeRoleWithWebIdentity; its id starts with `AROA`. */
  createRole(name: string, options: CreateRoleOptions): RoleInfo;
  /**
   * Trusts an OpenID Connect issuer (IAM's CreateOpenIDConnectProvider): `url` is the issuer
   * (`iss`), `clientIds` the accepted audiences. Returns the provider ARN for trust policies.
   */
  createOpenIdConnectProvider(provider: { url: string; clientIds: string[] }): { arn: string };
  /**
   * What a set of vended credentials may do: the principal's identity policies (the IAM
   * user's for federation tokens, the role's for assumed roles) intersected with the session
   * policy, with the principal's context keys filled in (`reference/sts-iam.md` §9).
   */
  authorize(request: AuthorizeRequest): Promise<AuthorizeResult>;
  /**
   * Every knob back to its default, the request log and the JWKS cache cleared. Identities
   * (users, keys, roles, providers) and issued sessions are kept.
   */
  reset(): void;
}

function positiveInt(name: string, value: unknown, allowZero = true): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new AwsError(
      'InvalidInput',
      400,
      `${name} must be a whole number${allowZero ? ' ≥ 0' : ' ≥ 1'}.`,
    );
  }
  return value;
}

/** Tags given to the control surface: a list of `{ key, value }` strings. */
export function checkTags(tags: unknown): void {
  if (tags === undefined) return;
  const ok =
    Array.isArray(tags) &&
    tags.every(
      (t: unknown) =>
        typeof t === 'object' &&
        t !== null &&
        typeof (t as Tag).key === 'string' &&
        typeof (t as Tag).value === 'string',
    );
  if (!ok)
    throw new AwsError('InvalidInput', 400, 'tags must be a list of { key, value } strings.');
}

function userInfo(user: IamUser): UserInfo {
  return { userName: user.userName, userId: user.userId, arn: user.arn, path: user.path };
}

export function sessionInfo(session: Session): SessionInfo {
  return {
    kind: session.kind,
    accessKeyId: session.accessKeyId,
    principalArn: session.principalArn,
    principalId: session.principalId,
    name: session.name,
    policy: session.policy,
    policyArns: [...session.policyArns],
    tags: session.tags.map((t) => ({ ...t })),
    transitiveTagKeys: [...session.transitiveTagKeys],
    sourceIdentity: session.sourceIdentity,
    issuedAt: session.issuedAt,
    expiration: session.expiration,
    parentUserName: session.kind === 'federated-user' ? session.parentUserName : undefined,
    roleName: session.roleName,
  };
}

/** The in-process implementation, over the endpoint's state. */
export class Control implements LocalAwsControl {
  readonly accountId: string;
  protected readonly account: Account;
  protected readonly knobs: Knobs;
  protected readonly oidc: OidcProviders;
  readonly #log: RequestRecord[];
  readonly #oidcKeys: OidcKeyCache;
  #keyvendIdentity: KeyvendIdentity | undefined;

  constructor(
    account: Account,
    knobs: Knobs,
    oidc: OidcProviders,
    oidcKeys: OidcKeyCache,
    log: RequestRecord[],
  ) {
    this.accountId = account.accountId;
    this.account = account;
    this.knobs = knobs;
    this.oidc = oidc;
    this.#oidcKeys = oidcKeys;
    this.#log = log;
  }

  createUser(name: string, options: CreateUserOptions = {}): UserInfo {
    if (typeof name !== 'string') throw new AwsError('InvalidInput', 400, 'name must be a string.');
    if (options.policies !== undefined && !Array.isArray(options.policies)) {
      throw new AwsError('InvalidInput', 400, 'policies must be a list of policy documents.');
    }
    if (options.path !== undefined && typeof options.path !== 'string') {
      throw new AwsError('InvalidInput', 400, 'path must be a string.');
    }
    checkTags(options.tags);
    return userInfo(this.account.createUser(name, options, this.knobs.now()));
  }

  createAccessKey(userName: string): AccessKeyPair {
    const key = this.account.createAccessKey(userName, this.knobs.now());
    return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  }

  createRootAccessKey(): AccessKeyPair {
    const key = this.account.createAccessKey(null, this.knobs.now());
    return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  }

  updateAccessKey(accessKeyId: string, status: 'Active' | 'Inactive'): void {
    if (status !== 'Active' && status !== 'Inactive') {
      throw new AwsError('InvalidInput', 400, "status must be 'Active' or 'Inactive'.");
    }
    this.account.updateAccessKey(accessKeyId, status);
  }

  deleteAccessKey(accessKeyId: string): void {
    this.account.deleteAccessKey(accessKeyId);
  }

  putUserPolicy(userName: string, policyName: string, policy: PolicyDocument | string): void {
    this.account.putUserPolicy(userName, policyName, policy);
  }

  createPolicy(name: string, policy: PolicyDocument | string): { arn: string } {
    return { arn: this.account.createPolicy(name, policy).arn };
  }

  attachUserPolicy(userName: string, policyArn: string): void {
    this.account.attachUserPolicy(userName, policyArn);
  }

  bootstrapKeyvendIdentity(
    options: { delegate?: (PolicyDocument | string)[] } = {},
  ): KeyvendIdentity {
    if (this.#keyvendIdentity !== undefined) return { ...this.#keyvendIdentity };
    const delegate = options.delegate ?? [];
    if (!Array.isArray(delegate)) {
      throw new AwsError('InvalidInput', 400, 'delegate must be a list of policy documents.');
    }
    const resource = `arn:aws:sts::${this.accountId}:federated-user/*`;
    const user = this.account.createUser(
      'keyvend',
      {
        policies: [
          {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'KeyvendIssuesFederationTokens',
                Effect: 'Allow',
                Action: ['sts:GetFederationToken', 'sts:TagSession'],
                Resource: resource,
              },
            ],
          },
          ...delegate,
        ],
      },
      this.knobs.now(),
    );
    const key = this.account.createAccessKey(user.userName, this.knobs.now());
    this.#keyvendIdentity = {
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      userName: user.userName,
      arn: user.arn,
    };
    return { ...this.#keyvendIdentity };
  }

  throttleNext(n: number): void {
    this.knobs.throttleRemaining = positiveInt('n', n);
  }

  setRateLimit(limit: { ratePerSecond: number; burst: number }): void {
    const { ratePerSecond, burst } = limit;
    if (typeof ratePerSecond !== 'number' || !(ratePerSecond > 0)) {
      throw new AwsError('InvalidInput', 400, 'ratePerSecond must be a number > 0.');
    }
    this.knobs.setRateLimit(ratePerSecond, positiveInt('burst', burst, false));
  }

  failNext(n: number, kind: FaultKind): void {
    positiveInt('n', n);
    if (kind !== 'internal' && kind !== 'reset' && kind !== 'timeout') {
      throw new AwsError('InvalidInput', 400, "kind must be 'internal', 'reset' or 'timeout'.");
    }
    for (let i = 0; i < n; i++) this.knobs.faults.push(kind);
  }

  setLatency(ms: number): void {
    this.knobs.latencyMs = positiveInt('ms', ms);
  }

  forcePackedPolicyTooLarge(force: boolean): void {
    this.knobs.forcePackedTooLarge = force === true;
  }

  setPackedBudget(units: number): void {
    this.knobs.packedBudget = positiveInt('units', units, false);
  }

  setRegionDisabled(region: string, disabled: boolean): void {
    if (disabled) this.knobs.disabledRegions.add(region);
    else this.knobs.disabledRegions.delete(region);
  }

  setClock(date: Date | string | null): void {
    if (date === null) {
      this.knobs.fixedClock = null;
    } else {
      const fixed = new Date(date);
      if (Number.isNaN(fixed.getTime())) throw new AwsError('InvalidInput', 400, 'Invalid date.');
      this.knobs.fixedClock = fixed;
    }
    this.knobs.clockOffsetMs = 0;
  }

  advanceClock(ms: number): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) {
      throw new AwsError('InvalidInput', 400, 'ms must be a finite number.');
    }
    this.knobs.clockOffsetMs += ms;
  }

  now(): Date {
    return this.knobs.now();
  }

  requests(): RequestRecord[] {
    return this.#log.map((r) => ({ ...r, params: { ...r.params } }));
  }

  clearRequests(): void {
    this.#log.length = 0;
  }

  stsCallCount(action?: string): number {
    return this.#log.filter(
      (r) => r.service === 'sts' && (action === undefined || r.action === action),
    ).length;
  }

  sessions(): SessionInfo[] {
    return this.account.sessions().map(sessionInfo);
  }

  createRole(name: string, options: CreateRoleOptions): RoleInfo {
    if (typeof name !== 'string') throw new AwsError('InvalidInput', 400, 'name must be a string.');
    if (typeof options !== 'object' || options === null) {
      throw new AwsError('InvalidInput', 400, 'options with a trustPolicy are required.');
    }
    if (options.policies !== undefined && !Array.isArray(options.policies)) {
      throw new AwsError('InvalidInput', 400, 'policies must be a list of policy documents.');
    }
    if (options.policyArns !== undefined && !Array.isArray(options.policyArns)) {
      throw new AwsError('InvalidInput', 400, 'policyArns must be a list of ARNs.');
    }
    checkTags(options.tags);
    const role = this.account.createRole(name, options, this.knobs.now());
    return {
      roleName: role.roleName,
      roleId: role.roleId,
      arn: role.arn,
      maxSessionDuration: role.maxSessionDuration,
    };
  }

  createOpenIdConnectProvider(provider: { url: string; clientIds: string[] }): { arn: string } {
    const { url, clientIds } = provider ?? {};
    if (typeof url !== 'string') throw new AwsError('InvalidInput', 400, 'url must be a string.');
    if (!Array.isArray(clientIds) || !clientIds.every((c) => typeof c === 'string')) {
      throw new AwsError('InvalidInput', 400, 'clientIds must be a list of strings.');
    }
    return { arn: this.oidc.create(url, clientIds).arn };
  }

  async authorize(request: AuthorizeRequest): Promise<AuthorizeResult> {
    const { accessKeyId, action, resource, context = {} } = request ?? {};
    for (const [name, value] of [
      ['accessKeyId', accessKeyId],
      ['action', action],
      ['resource', resource],
    ] as const) {
      if (typeof value !== 'string' || value === '') {
        throw new AwsError('InvalidInput', 400, `${name} must be a non-empty string.`);
      }
    }
    if (typeof context !== 'object' || context === null || Array.isArray(context)) {
      throw new AwsError('InvalidInput', 400, 'context must be an object of context keys.');
    }
    const owner = this.account.lookupKey(accessKeyId);
    if (owner === undefined) throw invalidClientTokenId();
    let caller: Parameters<typeof principalFacts>[1];
    if (owner.kind === 'session') {
      caller = { kind: 'session', session: owner.session };
    } else if (owner.key.userName === null) {
      caller = { kind: 'root' };
    } else {
      const user = this.account.getUser(owner.key.userName);
      if (user === undefined) throw invalidClientTokenId();
      caller = { kind: 'user', user };
    }
    const facts = principalFacts(this.account, caller);
    const now = this.knobs.now();
    const expired = owner.kind === 'session' && now.getTime() >= owner.session.expiration.getTime();
    const inactive = owner.kind === 'long-term' && owner.key.status !== 'Active';
    const decision =
      expired || inactive
        ? 'ImplicitlyDenied'
        : await decide(this.account, facts, action, resource, context, now);
    return {
      decision,
      principalArn: facts.arn,
      principalType: facts.context['aws:PrincipalType'] as AuthorizeResult['principalType'],
      expired,
      principalContext: { ...facts.context },
    };
  }

  reset(): void {
    this.knobs.reset();
    this.clearRequests();
    this.#oidcKeys.clear();
  }
}
