/**
 * STS `AssumeRole` (`reference/sts-iam.md` §4), checked in AWS's order: syntax (one
 * ValidationError for all violations); the role must exist and its trust policy allow the
 * caller — with `sts:TagSession` when tags are sent, `sts:SetSourceIdentity` when a source
 * identity is, the ExternalId and MFA context keys filled — root is refused; DurationSeconds
 * against the role's MaxSessionDuration and the 1-hour role-chaining limit; then the policies'
 * meaning, the packed size and the region. Session tags and transitive tags carry through
 * role chains; a source identity, once set, cannot change.
 */
import type { Session, Tag } from '../account.js';
import { accessDenied, notAuthorized } from '../aws-error.js';
import type { Operation, OperationContext } from '../operation.js';
import { decide, principalFacts } from '../principal-context.js';
import { PATTERNS, Violations, validationError } from '../validation.js';
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

export const ASSUME_ROLE_DEFAULT_SECONDS = 3600;
export const ROLE_CHAINING_MAX_SECONDS = 3600;

/** Reads `RoleArn` and `RoleSessionName`, shared with AssumeRoleWithWebIdentity. */
export function readRoleTarget(context: OperationContext, v: Violations) {
  const roleArn = context.params.get('RoleArn');
  if (v.required('roleArn', roleArn)) v.length('roleArn', roleArn, 20, 2048);
  const sessionName = context.params.get('RoleSessionName');
  if (v.required('roleSessionName', sessionName)) {
    v.length('roleSessionName', sessionName, 2, 64);
    v.pattern('roleSessionName', sessionName, PATTERNS.userName);
  }
  return { roleArn: roleArn ?? '', sessionName: sessionName ?? '' };
}

/** The `AssumedRoleUser` element, shared with AssumeRoleWithWebIdentity. */
export function assumedRoleUserXml(session: Session): string {
  return xmlElement(
    'AssumedRoleUser',
    xmlText('AssumedRoleId', session.principalId) + xmlText('Arn', session.principalArn),
  );
}

function sourceIdentityCheck(v: Violations, value: string | undefined): void {
  if (value === undefined) return;
  v.length('sourceIdentity', value, 2, 64);
  v.pattern('sourceIdentity', value, PATTERNS.userName);
}

async function handle(context: OperationContext): Promise<string> {
  const { account, knobs, params } = context;
  const caller = context.caller;
  if (caller === undefined) throw accessDenied('Anonymous callers cannot assume roles.');

  const v = new Violations();
  const { roleArn, sessionName } = readRoleTarget(context, v);
  const inputs = readSessionInputs(params, v, undefined);
  const duration = v.integer('durationSeconds', params.get('DurationSeconds'), 900, 43_200);
  const transitive = params.stringList('TransitiveTagKeys') ?? [];
  transitive.forEach((key, i) => {
    const member = `transitiveTagKeys.${i + 1}.member`;
    v.length(member, key, 1, 128);
    if (key.length > 0) v.pattern(member, key, PATTERNS.tagKey);
  });
  v.listLength('transitiveTagKeys', transitive.length, 50);
  const externalId = params.get('ExternalId');
  if (externalId !== undefined) {
    v.length('externalId', externalId, 2, 1224);
    v.pattern('externalId', externalId, PATTERNS.externalId);
  }
  const serialNumber = params.get('SerialNumber');
  if (serialNumber !== undefined) {
    v.length('serialNumber', serialNumber, 9, 256);
    v.pattern('serialNumber', serialNumber, { regex: /^[\w+=/:,.@-]*$/, text: '[\\w+=/:,.@-]*' });
  }
  const tokenCode = params.get('TokenCode');
  if (tokenCode !== undefined) {
    v.length('tokenCode', tokenCode, 6, 6);
    v.pattern('tokenCode', tokenCode, { regex: /^[\d]*$/, text: '[\\d]*' });
  }
  const sourceIdentity = params.get('SourceIdentity');
  sourceIdentityCheck(v, sourceIdentity);
  v.listLength('providedContexts', params.structList('ProvidedContexts')?.length ?? 0, 5);
  v.throwIfAny();
  checkTagKeys(inputs.tags);
  if (sourceIdentity?.toLowerCase().startsWith('aws:')) {
    throw validationError("SourceIdentity must not start with 'aws:'.");
  }
  const sessionTags = inputs.tags ?? [];
  const tagKeys = new Set(sessionTags.map((t) => t.key.toLowerCase()));
  if (transitive.some((k) => !tagKeys.has(k.toLowerCase()))) {
    throw validationError('TransitiveTagKeys must name keys of the session tags passed in Tags.');
  }

  // Step 3: the role and its trust policy.
  const facts = principalFacts(account, caller);
  const role = account.getRoleByArn(roleArn);
  if (caller.kind === 'root' || role === undefined) {
    throw notAuthorized(facts.arn, 'sts:AssumeRole', roleArn);
  }
  const parent = caller.kind === 'session' ? caller.session : undefined;
  const chained = parent?.kind === 'assumed-role';
  const inheritedTransitive: Tag[] =
    parent === undefined
      ? []
      : parent.tags.filter((t) =>
          parent.transitiveTagKeys.some((k) => k.toLowerCase() === t.key.toLowerCase()),
        );
  if (inheritedTransitive.some((t) => tagKeys.has(t.key.toLowerCase()))) {
    throw validationError(
      'A session tag key in Tags collides with a transitive tag inherited from the calling session.',
    );
  }
  if (
    parent?.sourceIdentity !== undefined &&
    sourceIdentity !== undefined &&
    sourceIdentity !== parent.sourceIdentity
  ) {
    throw accessDenied('The source identity cannot be changed once it is set in a role chain.');
  }
  const effectiveSourceIdentity = sourceIdentity ?? parent?.sourceIdentity;
  const now = knobs.now();
  const mfa = serialNumber !== undefined && tokenCode !== undefined;
  const requestContext: Record<string, string | string[]> = {
    'sts:RoleSessionName': sessionName,
    'aws:MultiFactorAuthPresent': mfa ? 'true' : 'false',
    ...(mfa ? { 'aws:MultiFactorAuthAge': '0' } : {}),
    ...(externalId === undefined ? {} : { 'sts:ExternalId': externalId }),
    ...(sourceIdentity === undefined ? {} : { 'sts:SourceIdentity': sourceIdentity }),
    ...(transitive.length === 0 ? {} : { 'sts:TransitiveTagKeys': transitive }),
  };
  const trust = { resourcePolicy: role.trustPolicy.document };
  const allowed = async (action: string, extra: Record<string, string | string[]> = {}) =>
    (await decide(
      account,
      facts,
      action,
      role.arn,
      { ...requestContext, ...extra },
      now,
      trust,
    )) === 'Allowed';
  if (!(await allowed('sts:AssumeRole'))) throw notAuthorized(facts.arn, 'sts:AssumeRole', roleArn);
  if (
    sessionTags.length > 0 &&
    !(await allowed('sts:TagSession', requestTagContext(sessionTags)))
  ) {
    throw notAuthorized(facts.arn, 'sts:TagSession', roleArn);
  }
  if (sourceIdentity !== undefined && !(await allowed('sts:SetSourceIdentity'))) {
    throw notAuthorized(facts.arn, 'sts:SetSourceIdentity', roleArn);
  }

  // Steps 4–5: duration.
  const seconds = duration ?? ASSUME_ROLE_DEFAULT_SECONDS;
  if (chained && seconds > ROLE_CHAINING_MAX_SECONDS) {
    throw validationError(
      'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
    );
  }
  if (seconds > role.maxSessionDuration) {
    throw validationError(
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
  }

  // Step 6.
  const policies = resolveSessionPolicies(account, inputs);
  const packed = checkPackedSizeAndRegion(account, knobs, inputs, context.region);

  const session = account.issueSession({
    kind: 'assumed-role',
    principalArn: `arn:aws:sts::${account.accountId}:assumed-role/${role.roleName}/${sessionName}`,
    principalId: `${role.roleId}:${sessionName}`,
    name: sessionName,
    policy: inputs.policy,
    policyDocument: policies.document,
    policyArns: inputs.policyArns,
    tags: mergeTags(mergeTags(role.tags, inheritedTransitive), sessionTags),
    transitiveTagKeys: [...inheritedTransitive.map((t) => t.key), ...transitive],
    sourceIdentity: effectiveSourceIdentity,
    issuedAt: now,
    expiration: expiryAfter(now, seconds),
    parentUserName: caller.kind === 'user' ? caller.user.userName : null,
    roleName: role.roleName,
    chained,
  });

  return (
    credentialsXml(session) +
    assumedRoleUserXml(session) +
    xmlText('PackedPolicySize', packed) +
    xmlText('SourceIdentity', session.sourceIdentity)
  );
}

export const assumeRole: Operation = { auth: 'sigv4', handle };
