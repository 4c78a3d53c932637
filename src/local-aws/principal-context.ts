/**
 * What the policy engine needs to know about a principal (`reference/sts-iam.md` §9): its
 * identity policies (the IAM user's, or the role's for assumed-role sessions), its session
 * policy, and the request context keys IAM fills for that kind of principal — `aws:userid`,
 * `aws:username` (IAM users only), `aws:PrincipalType`, `aws:PrincipalArn`,
 * `aws:PrincipalAccount`, `aws:PrincipalTag/*`, `aws:SourceIdentity`.
 */
import type { Account, Caller, Tag } from './account.js';
import type { PolicyDocument } from './policy-document.js';
import { forEvaluation, POLICY_VERSION, statementsOf } from './policy-document.js';
import { type Decision, evaluatePolicies } from './policy-engine.js';

/** The parts of a principal the engine evaluates. */
export interface PrincipalFacts {
  arn: string;
  /** Root is not subject to identity policies. */
  isRoot: boolean;
  identityPolicies: { name: string; document: PolicyDocument }[];
  /** undefined: no session; null: a session with no session policy (grants nothing). */
  sessionPolicy: PolicyDocument | null | undefined;
  context: Record<string, string>;
}

const ALLOW_ALL: PolicyDocument = {
  Version: POLICY_VERSION,
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
};

function tagContext(tags: Tag[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tag of tags) out[`aws:PrincipalTag/${tag.key}`] = tag.value;
  return out;
}

/**
 * Merges session policies (inline plus managed) into one document: each keeps its own
 * Version rule, and together they grant the union of their statements.
 */
export function combineSessionPolicies(documents: PolicyDocument[]): PolicyDocument | null {
  if (documents.length === 0) return null;
  return {
    Version: POLICY_VERSION,
    Statement: documents.flatMap((d) => statementsOf(forEvaluation(d))),
  };
}

/** The facts for an authenticated caller. */
export function principalFacts(account: Account, caller: Caller): PrincipalFacts {
  const base = { 'aws:PrincipalAccount': account.accountId };
  if (caller.kind === 'root') {
    return {
      arn: account.rootArn,
      isRoot: true,
      identityPolicies: [{ name: 'root', document: ALLOW_ALL }],
      sessionPolicy: undefined,
      context: {
        ...base,
        'aws:userid': account.accountId,
        'aws:PrincipalType': 'Account',
        'aws:PrincipalArn': account.rootArn,
      },
    };
  }
  if (caller.kind === 'user') {
    const { user } = caller;
    return {
      arn: user.arn,
      isRoot: false,
      identityPolicies: account.identityPolicies(user),
      sessionPolicy: undefined,
      context: {
        ...base,
        ...tagContext(user.tags),
        'aws:userid': user.userId,
        'aws:username': user.userName,
        'aws:PrincipalType': 'User',
        'aws:PrincipalArn': user.arn,
      },
    };
  }
  const { session } = caller;
  const sessionDocs = [
    ...(session.policyDocument === undefined ? [] : [session.policyDocument]),
    ...session.policyArns
      .map((arn) => account.getPolicy(arn)?.document)
      .filter((d): d is PolicyDocument => d !== undefined),
  ];
  const combined = combineSessionPolicies(sessionDocs);
  const context: Record<string, string> = {
    ...base,
    ...tagContext(session.tags),
    'aws:userid': session.principalId,
  };
  if (session.sourceIdentity !== undefined) context['aws:SourceIdentity'] = session.sourceIdentity;
  if (session.kind === 'federated-user') {
    const parent =
      session.parentUserName === null ? undefined : account.getUser(session.parentUserName);
    return {
      arn: session.principalArn,
      isRoot: false,
      identityPolicies:
        parent === undefined
          ? [{ name: 'root', document: ALLOW_ALL }]
          : account.identityPolicies(parent),
      // A federation token without session policies has no permissions at all.
      sessionPolicy: combined,
      context: {
        ...context,
        'aws:PrincipalType': 'FederatedUser',
        'aws:PrincipalArn': session.principalArn,
      },
    };
  }
  const role = session.roleName === undefined ? undefined : account.getRole(session.roleName);
  return {
    arn: session.principalArn,
    isRoot: false,
    identityPolicies: role === undefined ? [] : account.identityPolicies(role),
    // An assumed-role session without session policies keeps the role's rights.
    sessionPolicy: combined ?? undefined,
    context: {
      ...context,
      'aws:PrincipalType': 'AssumedRole',
      'aws:PrincipalArn': role?.arn ?? session.principalArn,
    },
  };
}

/** Evaluates `action` on `resource` for the principal, with extra request context keys. */
export async function decide(
  account: Account,
  facts: PrincipalFacts,
  action: string,
  resource: string,
  extraContext: Record<string, string | string[]>,
  now: Date,
  options: { resourcePolicy?: PolicyDocument } = {},
): Promise<Decision> {
  if (facts.isRoot && options.resourcePolicy === undefined) return 'Allowed';
  return evaluatePolicies({
    ...options,
    principalArn: facts.arn,
    action,
    resource,
    resourceAccount: account.accountId,
    identityPolicies: facts.identityPolicies,
    sessionPolicy: facts.sessionPolicy,
    context: { ...facts.context, ...extraContext },
    now,
  });
}
