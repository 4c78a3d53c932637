/**
 * Policy evaluation for the local AWS endpoint, by `@cloud-copilot/iam-simulate`. That package
 * is AGPL-3.0 and a devDependency: it is loaded here with a dynamic `import()` on the first
 * evaluation and nowhere else, so nothing on keyvend's production path ever loads it.
 *
 * Documents pass through `forEvaluation` first (the Version rule for `${…}` variables). When
 * iam-simulate's action data lacks a resource type for an action (it has none for
 * `sts:TagSession` on a federated user), the documents, already checked by
 * `checkPolicyDocument`, are evaluated with its unvalidated engine instead (see
 * `unvalidatedDecision` for what that path leaves out); OIDC trust policies always take that
 * path (`evaluateFederatedTrust`). Decisions are cached: a request context only carries the
 * time keys when a policy mentions them.
 */

import { LruCache } from '../lru-cache.js';
import { AwsError } from './aws-error.js';
import {
  forEvaluation,
  POLICY_VERSION,
  type PolicyDocument,
  statementsOf,
} from './policy-document.js';

type IamSimulate = typeof import('@cloud-copilot/iam-simulate');

/** The decision iam-simulate reaches, in its words. */
export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

/** One request to evaluate against a principal's policies. */
export interface EvaluationRequest {
  principalArn: string;
  action: string;
  resource: string;
  /** The account that owns the resource. */
  resourceAccount: string;
  /** Identity policies of the principal (IAM user's or role's). */
  identityPolicies: { name: string; document: PolicyDocument }[];
  /**
   * The session policy, for role and federated-user sessions. `null` means a session without
   * any session policy, which (for federation tokens) grants nothing.
   */
  sessionPolicy?: PolicyDocument | null;
  /** A resource-based policy (e.g. a role's trust policy for `sts:AssumeRole`). */
  resourcePolicy?: PolicyDocument;
  /** Request context keys, e.g. `aws:userid`, `aws:PrincipalTag/x`. */
  context: Record<string, string | string[]>;
  /** The evaluation time, for `aws:CurrentTime` / `aws:EpochTime`. */
  now: Date;
}

type SimulationInput = Parameters<IamSimulate['runUnsafeSimulation']>[0];

let loading: Promise<IamSimulate> | undefined;

async function simulator(): Promise<IamSimulate> {
  loading ??= import('@cloud-copilot/iam-simulate').catch((cause: unknown) => {
    loading = undefined;
    throw new AwsError(
      'InternalFailure',
      500,
      'The local AWS endpoint needs the devDependency @cloud-copilot/iam-simulate to evaluate policies.',
      { cause },
    );
  });
  return loading;
}

const cache = new LruCache<string, Decision>(2000);
const TIME_KEYS = /aws:(CurrentTime|EpochTime)/i;

/** Evaluates one request; explicit Deny wins, and anything not allowed is implicitly denied. */
export async function evaluatePolicies(request: EvaluationRequest): Promise<Decision> {
  if (request.sessionPolicy === null) return 'ImplicitlyDenied';
  const identityPolicies = request.identityPolicies.map((p) => ({
    name: p.name,
    policy: forEvaluation(p.document),
  }));
  const sessionPolicy =
    request.sessionPolicy === undefined ? undefined : forEvaluation(request.sessionPolicy);
  const resourcePolicy =
    request.resourcePolicy === undefined ? undefined : forEvaluation(request.resourcePolicy);
  const context = { ...request.context };
  const mentionsTime = TIME_KEYS.test(
    JSON.stringify([identityPolicies, sessionPolicy ?? null, resourcePolicy ?? null]),
  );
  if (mentionsTime) {
    context['aws:CurrentTime'] = request.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
    context['aws:EpochTime'] = String(Math.floor(request.now.getTime() / 1000));
  }
  const simulation = {
    request: {
      principal: request.principalArn,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: context,
    },
    identityPolicies,
    ...(sessionPolicy === undefined ? {} : { sessionPolicy }),
    ...(resourcePolicy === undefined ? {} : { resourcePolicy }),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  const key = JSON.stringify(simulation);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;

  const sim = await simulator();
  const result = await sim.runSimulation(simulation, {});
  let decision: Decision;
  if (result.resultType === 'error') {
    if (result.errors.message !== 'no.resource.types') {
      throw new AwsError(
        'InternalFailure',
        500,
        'The local AWS endpoint could not evaluate a policy.',
        {
          cause: new Error(`iam-simulate: ${JSON.stringify(result.errors)}`),
        },
      );
    }
    decision = unvalidatedDecision(sim, simulation);
  } else {
    decision = result.overallResult;
  }
  cache.set(key, decision);
  return decision;
}

/** The stronger of two decisions under IAM's rules: explicit Deny, then implicit, then Allow. */
function intersect(a: Decision, b: Decision): Decision {
  if (a === 'ExplicitlyDenied' || b === 'ExplicitlyDenied') return 'ExplicitlyDenied';
  return a === 'Allowed' && b === 'Allowed' ? 'Allowed' : 'ImplicitlyDenied';
}

/**
 * iam-simulate's unvalidated engine ignores session policies and cannot load an unnamed
 * resource policy, so the identity and session policies are evaluated apart and intersected;
 * resource policies play no part on this path.
 */
function unvalidatedDecision(sim: IamSimulate, simulation: SimulationInput): Decision {
  const base = { ...simulation, sessionPolicy: undefined, resourcePolicy: undefined };
  const identity = sim.runUnsafeSimulation(base, {});
  if (simulation.sessionPolicy === undefined) return identity;
  const session = sim.runUnsafeSimulation(
    { ...base, identityPolicies: [{ name: 'session', policy: simulation.sessionPolicy }] },
    {},
  );
  return intersect(identity, session);
}

function principalList(value: unknown, key: string): string[] | '*' | undefined {
  if (value === '*') return '*';
  if (typeof value !== 'object' || value === null) return undefined;
  const entry = (value as Record<string, unknown>)[key];
  if (entry === undefined) return undefined;
  return Array.isArray(entry)
    ? entry.filter((e): e is string => typeof e === 'string')
    : [String(entry)];
}

/** One trust policy evaluation for a federated (OIDC) principal. */
export interface FederatedTrustRequest {
  /** `arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH`. */
  providerArn: string;
  trustPolicy: PolicyDocument;
  action: string;
  roleArn: string;
  account: string;
  context: Record<string, string | string[]>;
}

/**
 * Evaluates a role's trust policy for an OIDC provider. iam-simulate's validated engine drops
 * context keys its data does not list (a provider's `HOST/PATH:aud`, `:sub`), so the statements
 * whose `Principal` / `NotPrincipal` take in the provider are evaluated, conditions and all, as
 * identity statements by its unvalidated engine. The document was checked when the role was
 * created.
 */
export async function evaluateFederatedTrust(request: FederatedTrustRequest): Promise<Decision> {
  const statements = statementsOf(forEvaluation(request.trustPolicy)).flatMap((s) => {
    const named = principalList(s.Principal, 'Federated');
    const excluded = principalList(s.NotPrincipal, 'Federated');
    const applies =
      s.Principal !== undefined
        ? named === '*' || (named?.includes(request.providerArn) ?? false) || named?.includes('*')
        : excluded !== '*' && !(excluded?.includes(request.providerArn) ?? false);
    if (!applies) return [];
    const { Principal: _p, NotPrincipal: _n, Resource: _r, NotResource: _nr, ...rest } = s;
    return [{ ...rest, Resource: '*' }];
  });
  if (statements.length === 0) return 'ImplicitlyDenied';
  const simulation = {
    request: {
      principal: request.providerArn,
      action: request.action,
      resource: { resource: request.roleArn, accountId: request.account },
      contextVariables: request.context,
    },
    identityPolicies: [
      { name: 'trust', policy: { Version: POLICY_VERSION, Statement: statements } },
    ],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  const key = JSON.stringify(['federated-trust', simulation]);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const decision = (await simulator()).runUnsafeSimulation(simulation, {});
  cache.set(key, decision);
  return decision;
}
