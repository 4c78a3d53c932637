/**
 * The identities one local AWS account holds (`reference/sts-iam.md` §2): IAM users with their
 * access keys, inline policies and tags; root keys; managed policies; roles; and the temporary
 * credentials STS has issued. Names are unique ignoring case, as in IAM, and looked up the same
 * way. Everything lives in memory: this is a development tool, not a store.
 */
import { AwsError } from './aws-error.js';
import { awsId, secretAccessKey, sessionToken } from './ids.js';
import {
  checkPolicyDocument,
  type PolicyDocument,
  parsePolicyDocument,
} from './policy-document.js';

export interface Tag {
  key: string;
  value: string;
}

/** An inline or managed policy kept with its original text. */
export interface StoredPolicy {
  name: string;
  text: string;
  document: PolicyDocument;
}

export interface IamUser {
  userName: string;
  userId: string;
  path: string;
  arn: string;
  createDate: Date;
  tags: Tag[];
  inlinePolicies: StoredPolicy[];
  attachedPolicyArns: string[];
}

export interface IamRole {
  roleName: string;
  roleId: string;
  path: string;
  arn: string;
  createDate: Date;
  trustPolicy: StoredPolicy;
  inlinePolicies: StoredPolicy[];
  attachedPolicyArns: string[];
  /** Seconds, 3600–43200. */
  maxSessionDuration: number;
  tags: Tag[];
}

export interface ManagedPolicy extends StoredPolicy {
  arn: string;
}

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  status: AccessKeyStatus;
  createDate: Date;
  /** The IAM user's name, or `null` for root keys. */
  userName: string | null;
}

/** Temporary credentials STS issued, and the principal they stand for. */
export interface Session {
  kind: 'federated-user' | 'assumed-role';
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** `federated-user/NAME` or `assumed-role/ROLE/SESSION` ARN. */
  principalArn: string;
  /** `aws:userid`: `ACCOUNT:NAME` or `ROLEID:SESSION`. */
  principalId: string;
  /** Federated user name or role session name. */
  name: string;
  /** The inline session policy exactly as sent. */
  policy: string | undefined;
  policyDocument: PolicyDocument | undefined;
  policyArns: string[];
  /** Effective principal tags of the session. */
  tags: Tag[];
  transitiveTagKeys: string[];
  sourceIdentity: string | undefined;
  issuedAt: Date;
  expiration: Date;
  /** Who called STS: an IAM user name, `null` for root, or the role for assumed roles. */
  parentUserName: string | null;
  roleName: string | undefined;
  /** True when an assumed-role session was itself created by an assumed-role session. */
  chained: boolean;
}

/** The authenticated principal of a request. */
export type Caller =
  | { kind: 'root' }
  | { kind: 'user'; user: IamUser }
  | { kind: 'session'; session: Session };

/** What a key id resolves to. */
export type KeyOwner =
  | { kind: 'long-term'; key: AccessKey }
  | { kind: 'session'; session: Session };

const fold = (name: string): string => name.toLowerCase();

const SESSION_SWEEP_EVERY = 1000;
const FORGET_EXPIRED_AFTER_MS = 24 * 3600 * 1000;

function normalisePath(path: string | undefined): string {
  const p = path ?? '/';
  if (!/^(\/|\/[\u0021-\u007E]+\/)$/.test(p)) {
    throw new AwsError(
      'ValidationError',
      400,
      `Invalid path '${p}': it must start and end with '/'.`,
    );
  }
  return p;
}

function toStoredPolicy(name: string, policy: PolicyDocument | string, kind: 'identity' | 'trust') {
  const text = typeof policy === 'string' ? policy : JSON.stringify(policy);
  const document =
    typeof policy === 'string'
      ? parsePolicyDocument(policy, kind)
      : checkPolicyDocument(policy, kind);
  return { name, text, document };
}

/** One account's identities. */
export class Account {
  readonly accountId: string;
  readonly #users = new Map<string, IamUser>();
  readonly #roles = new Map<string, IamRole>();
  readonly #policies = new Map<string, ManagedPolicy>();
  readonly #keys = new Map<string, AccessKey>();
  readonly #sessions = new Map<string, Session>();
  #issued = 0;

  constructor(accountId: string) {
    this.accountId = accountId;
  }

  get rootArn(): string {
    return `arn:aws:iam::${this.accountId}:root`;
  }

  createUser(
    userName: string,
    options: { policies?: (PolicyDocument | string)[]; path?: string; tags?: Tag[] },
    now: Date,
  ): IamUser {
    if (!/^[\w+=,.@-]{1,64}$/.test(userName)) {
      throw new AwsError('ValidationError', 400, `Invalid user name '${userName}'.`);
    }
    if (this.#users.has(fold(userName))) {
      throw new AwsError('EntityAlreadyExists', 409, `User with name ${userName} already exists.`);
    }
    const path = normalisePath(options.path);
    const user: IamUser = {
      userName,
      userId: awsId('AIDA', 17),
      path,
      arn: `arn:aws:iam::${this.accountId}:user${path}${userName}`,
      createDate: now,
      tags: [...(options.tags ?? [])],
      inlinePolicies: (options.policies ?? []).map((p, i) =>
        toStoredPolicy(`inline-${i + 1}`, p, 'identity'),
      ),
      attachedPolicyArns: [],
    };
    this.#users.set(fold(userName), user);
    return user;
  }

  getUser(userName: string): IamUser | undefined {
    return this.#users.get(fold(userName));
  }

  listUsers(): IamUser[] {
    return [...this.#users.values()].sort((a, b) => (a.userName < b.userName ? -1 : 1));
  }

  /** Adds an inline policy to a user (replacing one of the same name). */
  putUserPolicy(userName: string, policyName: string, policy: PolicyDocument | string): void {
    const user = this.#requireUser(userName);
    const stored = toStoredPolicy(policyName, policy, 'identity');
    user.inlinePolicies = user.inlinePolicies.filter((p) => p.name !== policyName).concat(stored);
  }

  /** Attaches a managed policy of this account to a user. */
  attachUserPolicy(userName: string, policyArn: string): void {
    const user = this.#requireUser(userName);
    if (!this.#policies.has(policyArn)) {
      throw new AwsError(
        'NoSuchEntity',
        404,
        `Policy ${policyArn} does not exist or is not attachable.`,
      );
    }
    if (!user.attachedPolicyArns.includes(policyArn)) user.attachedPolicyArns.push(policyArn);
  }

  #requireUser(userName: string): IamUser {
    const user = this.getUser(userName);
    if (user === undefined) {
      throw new AwsError('NoSuchEntity', 404, `The user with name ${userName} cannot be found.`);
    }
    return user;
  }

  createAccessKey(userName: string | null, now: Date): AccessKey {
    let owner: string | null = null;
    if (userName !== null) {
      const user = this.#requireUser(userName);
      owner = user.userName;
      const count = [...this.#keys.values()].filter((k) => k.userName === owner).length;
      if (count >= 2) {
        throw new AwsError('LimitExceeded', 409, 'Cannot exceed quota for AccessKeysPerUser: 2');
      }
    }
    const key: AccessKey = {
      accessKeyId: awsId('AKIA', 16),
      secretAccessKey: secretAccessKey(),
      status: 'Active',
      createDate: now,
      userName: owner,
    };
    this.#keys.set(key.accessKeyId, key);
    return key;
  }

  updateAccessKey(accessKeyId: string, status: AccessKeyStatus): void {
    const key = this.#keys.get(accessKeyId);
    if (key === undefined) {
      throw new AwsError(
        'NoSuchEntity',
        404,
        `The Access Key with id ${accessKeyId} cannot be found.`,
      );
    }
    key.status = status;
  }

  deleteAccessKey(accessKeyId: string): void {
    if (!this.#keys.delete(accessKeyId)) {
      throw new AwsError(
        'NoSuchEntity',
        404,
        `The Access Key with id ${accessKeyId} cannot be found.`,
      );
    }
  }

  listAccessKeys(userName: string | null): AccessKey[] {
    return [...this.#keys.values()].filter((k) => k.userName === userName);
  }

  createPolicy(name: string, policy: PolicyDocument | string): ManagedPolicy {
    const arn = `arn:aws:iam::${this.accountId}:policy/${name}`;
    if (this.#policies.has(arn)) {
      throw new AwsError('EntityAlreadyExists', 409, `A policy called ${name} already exists.`);
    }
    const managed: ManagedPolicy = { ...toStoredPolicy(name, policy, 'identity'), arn };
    this.#policies.set(arn, managed);
    return managed;
  }

  getPolicy(arn: string): ManagedPolicy | undefined {
    return this.#policies.get(arn);
  }

  createRole(
    roleName: string,
    options: {
      trustPolicy: PolicyDocument | string;
      policies?: (PolicyDocument | string)[];
      policyArns?: string[];
      maxSessionDuration?: number;
      tags?: Tag[];
      path?: string;
    },
    now: Date,
  ): IamRole {
    if (!/^[\w+=,.@-]{1,64}$/.test(roleName)) {
      throw new AwsError('ValidationError', 400, `Invalid role name '${roleName}'.`);
    }
    if (this.#roles.has(fold(roleName))) {
      throw new AwsError('EntityAlreadyExists', 409, `Role with name ${roleName} already exists.`);
    }
    const max = options.maxSessionDuration ?? 3600;
    if (!Number.isInteger(max) || max < 3600 || max > 43200) {
      throw new AwsError('ValidationError', 400, 'maxSessionDuration must be 3600–43200 seconds.');
    }
    for (const arn of options.policyArns ?? []) {
      if (!this.#policies.has(arn)) {
        throw new AwsError(
          'NoSuchEntity',
          404,
          `Policy ${arn} does not exist or is not attachable.`,
        );
      }
    }
    const path = normalisePath(options.path);
    const role: IamRole = {
      roleName,
      roleId: awsId('AROA', 17),
      path,
      arn: `arn:aws:iam::${this.accountId}:role${path}${roleName}`,
      createDate: now,
      trustPolicy: toStoredPolicy('trust', options.trustPolicy, 'trust'),
      inlinePolicies: (options.policies ?? []).map((p, i) =>
        toStoredPolicy(`inline-${i + 1}`, p, 'identity'),
      ),
      attachedPolicyArns: [...(options.policyArns ?? [])],
      maxSessionDuration: max,
      tags: [...(options.tags ?? [])],
    };
    this.#roles.set(fold(roleName), role);
    return role;
  }

  getRole(roleName: string): IamRole | undefined {
    return this.#roles.get(fold(roleName));
  }

  /** The role an ARN names, when the ARN is this account's and its path matches. */
  getRoleByArn(arn: string): IamRole | undefined {
    const m = /^arn:aws:iam::(\d{12}):role(\/(?:.*\/)?)([^/]+)$/.exec(arn);
    if (!m || m[1] !== this.accountId) return undefined;
    const role = this.getRole(m[3] ?? '');
    return role !== undefined && role.path === m[2] && role.roleName === m[3] ? role : undefined;
  }

  /** Identity policies of a user or role: inline plus attached managed ones. */
  identityPolicies(principal: IamUser | IamRole): StoredPolicy[] {
    const managed = principal.attachedPolicyArns
      .map((arn) => this.#policies.get(arn))
      .filter((p): p is ManagedPolicy => p !== undefined);
    return [...principal.inlinePolicies, ...managed];
  }

  /**
   * Records issued temporary credentials under fresh `ASIA` ids and returns them. Sessions
   * that expired more than a day before this issuance are forgotten (their keys then answer
   * InvalidClientTokenId rather than ExpiredToken), so a long-running endpoint stays small.
   */
  issueSession(fields: Omit<Session, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>): Session {
    this.#issued += 1;
    if (this.#issued % SESSION_SWEEP_EVERY === 0) {
      const horizon = fields.issuedAt.getTime() - FORGET_EXPIRED_AFTER_MS;
      for (const [id, s] of this.#sessions) {
        if (s.expiration.getTime() < horizon) this.#sessions.delete(id);
      }
    }
    const session: Session = {
      ...fields,
      accessKeyId: awsId('ASIA', 16),
      secretAccessKey: secretAccessKey(),
      sessionToken: sessionToken(),
    };
    this.#sessions.set(session.accessKeyId, session);
    return session;
  }

  sessions(): Session[] {
    return [...this.#sessions.values()];
  }

  /** Drops every temporary credential. */
  clearSessions(): void {
    this.#sessions.clear();
  }

  /** Resolves an access key id to its key or session. */
  lookupKey(accessKeyId: string): KeyOwner | undefined {
    const key = this.#keys.get(accessKeyId);
    if (key !== undefined) return { kind: 'long-term', key };
    const session = this.#sessions.get(accessKeyId);
    return session === undefined ? undefined : { kind: 'session', session };
  }
}

/** The ARN a caller is known by in error messages and `aws:PrincipalArn`. */
export function callerArn(account: Account, caller: Caller): string {
  if (caller.kind === 'root') return account.rootArn;
  if (caller.kind === 'user') return caller.user.arn;
  return caller.session.principalArn;
}
