/**
 * STS `AssumeRoleWithWebIdentity` (`reference/sts-iam.md` §4), an unsigned operation: syntax,
 * then the ID token verified as STS does (`web-identity-token.ts`), then the role's trust
 * policy evaluated for the OIDC provider with `PROVIDER:aud`, `PROVIDER:sub` and the session
 * tags from the token (which need `sts:TagSession`), then duration, policies, packed size and
 * region. The token is a secret: it is masked in validation messages and the request log.
 */
import { accessDenied } from '../aws-error.js';
import type { Operation, OperationContext } from '../operation.js';
import { evaluateFederatedTrust } from '../policy-engine.js';
import { Violations, validationError } from '../validation.js';
import { verifyWebIdentityToken } from '../web-identity-token.js';
import { xmlText } from '../xml.js';
import { assumedRoleUserXml, readRoleTarget } from './assume-role.js';
import {
  checkPackedSizeAndRegion,
  credentialsXml,
  expiryAfter,
  mergeTags,
  readSessionInputs,
  requestTagContext,
  resolveSessionPolicies,
} from './session-inputs.js';

const NOT_AUTHORIZED = 'Not authorized to perform sts:AssumeRoleWithWebIdentity';

async function handle(context: OperationContext): Promise<string> {
  const { account, knobs, params } = context;
  const v = new Violations(['webIdentityToken']);
  const { roleArn, sessionName } = readRoleTarget(context, v);
  const token = params.get('WebIdentityToken');
  if (v.required('webIdentityToken', token)) v.length('webIdentityToken', token, 4, 20_000);
  const providerId = params.get('ProviderId');
  if (providerId !== undefined) v.length('providerId', providerId, 4, 2048);
  const inputs = readSessionInputs(params, v, undefined);
  if (params.structList('Tags') !== undefined) {
    v.add('Tags are not a parameter of AssumeRoleWithWebIdentity: they come from the token.');
  }
  const duration = v.integer('durationSeconds', params.get('DurationSeconds'), 900, 43_200);
  v.throwIfAny();

  const now = knobs.now();
  const identity = await verifyWebIdentityToken(
    token as string,
    context.oidc,
    context.oidcKeys,
    now,
  );

  const role = account.getRoleByArn(roleArn);
  if (role === undefined) throw accessDenied(NOT_AUTHORIZED);
  const prefix = identity.provider.hostPath;
  const requestContext: Record<string, string | string[]> = {
    [`${prefix}:aud`]: identity.audience,
    [`${prefix}:sub`]: identity.subject,
    'aws:FederatedProvider': identity.provider.arn,
    'sts:RoleSessionName': sessionName,
    ...(typeof identity.claims.amr === 'string' || Array.isArray(identity.claims.amr)
      ? { [`${prefix}:amr`]: identity.claims.amr as string | string[] }
      : {}),
    ...(identity.transitiveTagKeys.length === 0
      ? {}
      : { 'sts:TransitiveTagKeys': identity.transitiveTagKeys }),
    ...(identity.sourceIdentity === undefined
      ? {}
      : { 'sts:SourceIdentity': identity.sourceIdentity }),
  };
  const allowed = async (action: string, extra: Record<string, string | string[]> = {}) =>
    (await evaluateFederatedTrust({
      providerArn: identity.provider.arn,
      trustPolicy: role.trustPolicy.document,
      action,
      roleArn: role.arn,
      account: account.accountId,
      context: { ...requestContext, ...extra },
    })) === 'Allowed';
  if (!(await allowed('sts:AssumeRoleWithWebIdentity'))) throw accessDenied(NOT_AUTHORIZED);
  if (
    identity.tags.length > 0 &&
    !(await allowed('sts:TagSession', requestTagContext(identity.tags)))
  ) {
    throw accessDenied(NOT_AUTHORIZED);
  }
  if (identity.sourceIdentity !== undefined && !(await allowed('sts:SetSourceIdentity'))) {
    throw accessDenied(NOT_AUTHORIZED);
  }

  const seconds = duration ?? 3600;
  if (seconds > role.maxSessionDuration) {
    throw validationError(
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    );
  }
  const policies = resolveSessionPolicies(account, inputs);
  const packed = checkPackedSizeAndRegion(
    account,
    knobs,
    { ...inputs, tags: identity.tags },
    context.region,
  );

  const session = account.issueSession({
    kind: 'assumed-role',
    principalArn: `arn:aws:sts::${account.accountId}:assumed-role/${role.roleName}/${sessionName}`,
    principalId: `${role.roleId}:${sessionName}`,
    name: sessionName,
    policy: inputs.policy,
    policyDocument: policies.document,
    policyArns: inputs.policyArns,
    tags: mergeTags(role.tags, identity.tags),
    transitiveTagKeys: identity.transitiveTagKeys,
    sourceIdentity: identity.sourceIdentity,
    issuedAt: now,
    expiration: expiryAfter(now, seconds),
    parentUserName: null,
    roleName: role.roleName,
    chained: false,
  });

  return (
    credentialsXml(session) +
    xmlText('SubjectFromWebIdentityToken', identity.subject) +
    assumedRoleUserXml(session) +
    xmlText('PackedPolicySize', packed) +
    xmlText('Provider', identity.claims.iss) +
    xmlText('Audience', identity.audience) +
    xmlText('SourceIdentity', session.sourceIdentity)
  );
}

export const assumeRoleWithWebIdentity: Operation = { auth: 'none', handle };
