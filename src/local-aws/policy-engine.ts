/**
 * Policy evaluation for the local AWS endpoint, by `@cloud-copilot/iam-simulate`. That package
 * is AGPL-3.0 and a devDependency: it is loaded here with a dynamic `import()` on the first
 * evaluation and nowhere else, so nothing on keyvend's production path ever loads it.
 *
 * Documents pass through `forEvaluation` first (the Version rule for `${…}` variables). When
 * iam-simulate's action data lacks a resource type for an action (it has none for
 * `sts:TagSession` on a federated user), the documents, already checked by
 * `checkPolicyDocument`, are evaluated with its unvalidated engine instead. Decisions are
 * cached: a request context only carries the time keys when a policy mentions them.
 */

import { LruCache } from '../lru-cache.js';
import { AwsError } from './aws-error.js';
import { forEvaluation, type PolicyDocument } from './policy-document.js';

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
  /**
   * Skip iam-simulate's input validation. Needed where the context carries keys its data does
   * not know, such as an OIDC provider's `HOST/PATH:aud` and `:sub`, which it would otherwise
   * drop. The documents must already have passed `checkPolicyDocument`.
   */
  unvalidated?: boolean;
}

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
  const key = JSON.stringify([request.unvalidated === true, simulation]);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;

  const sim = await simulator();
  if (request.unvalidated === true) {
    const decision = sim.runUnsafeSimulation(simulation, {});
    cache.set(key, decision);
    return decision;
  }
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
    decision = sim.runUnsafeSimulation(simulation, {});
  } else {
    decision = result.overallResult;
  }
  cache.set(key, decision);
  return decision;
}
