/**
 * The one way an issuer calls STS: the command runs under the issuer's `Resilience` (retries,
 * circuit breaker), every SDK error is translated at this boundary (`translateAwsError`), and
 * the answer's `Credentials` become `IssuedCredentials` with the expiry STS itself stated.
 */
import type { Credentials } from '@aws-sdk/client-sts';
import { KeyvendError } from '../errors.js';
import { AwsCallError, type AwsErrorContext, translateAwsError } from './aws-errors.js';
import type { IssuedCredentials } from './issuer.js';
import type { Resilience } from './resilience.js';

/**
 * Runs `send` (one SDK call) through `resilience`, translating failures.
 *
 * @example
 * ```ts
 * const out = await callSts(resilience, () => sts.send(new AssumeRoleCommand(input)), {
 *   operation: 'sts:AssumeRole',
 *   templateName: request.templateName,
 * });
 * ```
 * @throws `KeyvendError` only.
 */
export function callSts<Out>(
  resilience: Resilience,
  send: () => Promise<Out>,
  context: AwsErrorContext,
): Promise<Out> {
  return resilience.run(async () => {
    try {
      return await send();
    } catch (err) {
      throw translateAwsError(err, context);
    }
  });
}

/** Facts about the principal, from the operation's own answer. */
export interface PrincipalFacts {
  arn: string | undefined;
  id: string | undefined;
  packedPolicySize: number | undefined;
}

/**
 * Converts STS's `Credentials` into `IssuedCredentials`.
 *
 * @throws `KEYVEND_AWS_ERROR` when STS's answer lacks a field (never seen; never trusted).
 */
export function toIssuedCredentials(
  credentials: Credentials | undefined,
  principal: PrincipalFacts,
  operation: string,
): IssuedCredentials {
  const expiration = credentials?.Expiration;
  if (
    credentials?.AccessKeyId === undefined ||
    credentials.SecretAccessKey === undefined ||
    credentials.SessionToken === undefined ||
    !(expiration instanceof Date) ||
    Number.isNaN(expiration.getTime())
  ) {
    throw new KeyvendError('KEYVEND_AWS_ERROR', `${operation} answered without credentials.`, {
      cause: new AwsCallError(operation, 'IncompleteResponse', 'no Credentials', 200, undefined),
    });
  }
  const issued: IssuedCredentials = {
    accessKeyId: credentials.AccessKeyId,
    secretAccessKey: credentials.SecretAccessKey,
    sessionToken: credentials.SessionToken,
    expiration,
  };
  if (principal.arn !== undefined) {
    issued.principalArn = principal.arn;
    const account = principal.arn.split(':')[4];
    if (account !== undefined && /^\d{12}$/.test(account)) issued.accountId = account;
  }
  if (principal.id !== undefined) issued.principalId = principal.id;
  if (principal.packedPolicySize !== undefined)
    issued.packedPolicySize = principal.packedPolicySize;
  return issued;
}

/** STS's principal-name grammar; `max` is 32 for federation names, 64 for session names. */
export function checkPrincipalName(name: string, max: number): void {
  if (name.length < 2 || name.length > max || !/^[\w+=,.@-]+$/.test(name)) {
    // keyvend derives principal names itself, so this is a keyvend bug, not a caller mistake.
    throw new KeyvendError('KEYVEND_INTERNAL', undefined, {
      cause: new Error(`principal name is not a valid STS name of at most ${max} characters`),
    });
  }
}

/** The answer of AssumeRole and AssumeRoleWithWebIdentity, as far as keyvend reads it. */
export interface AssumedRoleOutput {
  Credentials?: Credentials | undefined;
  AssumedRoleUser?: { Arn?: string | undefined; AssumedRoleId?: string | undefined } | undefined;
  PackedPolicySize?: number | undefined;
}

/** `toIssuedCredentials` for the two role-assuming operations. */
export function fromAssumedRole(out: AssumedRoleOutput, operation: string): IssuedCredentials {
  return toIssuedCredentials(
    out.Credentials,
    {
      arn: out.AssumedRoleUser?.Arn,
      id: out.AssumedRoleUser?.AssumedRoleId,
      packedPolicySize: out.PackedPolicySize,
    },
    operation,
  );
}
