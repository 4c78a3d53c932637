/**
 * STS `GetFederationToken` (`reference/sts-iam.md` §3), checked in AWS's order: session
 * credentials are refused; every syntax violation is reported in one ValidationError; the
 * caller needs `sts:GetFederationToken` (and `sts:TagSession` when tags are sent) on
 * `arn:aws:sts::ACCOUNT:federated-user/NAME`; then the policies' meaning, the packed size and
 * the region. Root callers get at most 3,600 seconds, silently capped; the default is 43,200.
 */
import { accessDenied, notAuthorized } from '../aws-error.js';
import type { Operation, OperationContext } from '../operation.js';
import { decide, principalFacts } from '../principal-context.js';
import { PATTERNS, Violations } from '../validation.js';
import { xmlElement, xmlText } from '../xml.js';
import {
  checkPackedSizeAndRegion,
  checkTagKeys,
  credentialsXml,
  expiryAfter,
  mergeTags,
  readSessionInputs,
  requestTagContext,
  resolveSessionPolicies,
} from './session-inputs.js';

export const FEDERATION_DEFAULT_SECONDS = 43_200;
export const FEDERATION_ROOT_MAX_SECONDS = 3_600;

async function handle(context: OperationContext): Promise<string> {
  const { account, knobs, params } = context;
  const caller = context.caller;
  if (caller === undefined) throw accessDenied('Anonymous callers cannot get federation tokens.');
  if (caller.kind === 'session') {
    throw accessDenied('Cannot call GetFederationToken with session credentials');
  }

  const v = new Violations();
  const name = params.get('Name');
  if (v.required('name', name)) {
    v.length('name', name, 2, 32);
    v.pattern('name', name, PATTERNS.userName);
  }
  const inputs = readSessionInputs(params, v, 2048);
  const duration = v.integer('durationSeconds', params.get('DurationSeconds'), 900, 129_600);
  v.throwIfAny();
  checkTagKeys(inputs.tags);
  const federatedName = name as string;

  const resource = `arn:aws:sts::${account.accountId}:federated-user/${federatedName}`;
  const facts = principalFacts(account, caller);
  const now = knobs.now();
  const tags = inputs.tags ?? [];
  if ((await decide(account, facts, 'sts:GetFederationToken', resource, {}, now)) !== 'Allowed') {
    throw notAuthorized(facts.arn, 'sts:GetFederationToken', resource);
  }
  if (tags.length > 0) {
    const tagContext = requestTagContext(tags);
    if ((await decide(account, facts, 'sts:TagSession', resource, tagContext, now)) !== 'Allowed') {
      throw notAuthorized(facts.arn, 'sts:TagSession', resource);
    }
  }

  const policies = resolveSessionPolicies(account, inputs);
  const packed = checkPackedSizeAndRegion(account, knobs, inputs, context.region);

  let seconds = duration ?? FEDERATION_DEFAULT_SECONDS;
  if (caller.kind === 'root') seconds = Math.min(seconds, FEDERATION_ROOT_MAX_SECONDS);
  const inherited = caller.kind === 'user' ? caller.user.tags : [];
  const session = account.issueSession({
    kind: 'federated-user',
    principalArn: resource,
    principalId: `${account.accountId}:${federatedName}`,
    name: federatedName,
    policy: inputs.policy,
    policyDocument: policies.document,
    policyArns: inputs.policyArns,
    tags: mergeTags(inherited, tags),
    transitiveTagKeys: [],
    sourceIdentity: undefined,
    issuedAt: now,
    expiration: expiryAfter(now, seconds),
    parentUserName: caller.kind === 'user' ? caller.user.userName : null,
    roleName: undefined,
    chained: false,
  });

  return (
    credentialsXml(session) +
    xmlElement(
      'FederatedUser',
      xmlText('FederatedUserId', session.principalId) + xmlText('Arn', session.principalArn),
    ) +
    xmlText('PackedPolicySize', packed)
  );
}

export const getFederationToken: Operation = { auth: 'sigv4', handle };
