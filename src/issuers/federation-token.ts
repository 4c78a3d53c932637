/**
 * The `federation-token` issuer: STS GetFederationToken with keyvend's own IAM-user
 * credentials (the SDK chain, or the local endpoint's bootstrap identity). Name is the
 * principal name (≤ 32 characters), so policies key on `${aws:userid}` = `ACCOUNT:NAME`;
 * the rendered policy is the session policy, intersected by AWS with the IAM user's own.
 * Session tags are sent only when the vend request has some (they need `sts:TagSession`).
 */
import {
  GetFederationTokenCommand,
  type GetFederationTokenCommandInput,
  type STSClient,
} from '@aws-sdk/client-sts';
import { STS_MAX_TTL } from '../config/schema.js';
import type { IssuedCredentials, IssueRequest, Issuer } from './issuer.js';
import { Resilience } from './resilience.js';
import { checkSessionTags } from './session-tags.js';
import { callSts, checkPrincipalName, toIssuedCredentials } from './sts-call.js';

/** What every STS-backed issuer is built with. */
export interface StsIssuerDeps {
  /** keyvend's shared client (`createStsClient`). */
  sts: STSClient;
  /** Retries and breaker for this issuer; a default one when absent. */
  resilience?: Resilience;
}

const OPERATION = 'sts:GetFederationToken';
/** GetFederationToken's Name limit. */
const MAX_NAME = 32;

/** Mints credentials with GetFederationToken. */
export class FederationTokenIssuer implements Issuer {
  readonly type = 'federation-token';
  /** STS's own ceiling for GetFederationToken (36 h). */
  readonly maxDurationSeconds = STS_MAX_TTL;
  readonly #sts: STSClient;
  readonly #resilience: Resilience;

  constructor(deps: StsIssuerDeps) {
    this.#sts = deps.sts;
    this.#resilience = deps.resilience ?? new Resilience();
  }

  async issue(request: IssueRequest): Promise<IssuedCredentials> {
    checkPrincipalName(request.principalName, MAX_NAME);
    checkSessionTags(request.tags);
    const input: GetFederationTokenCommandInput = {
      Name: request.principalName,
      DurationSeconds: Math.min(request.durationSeconds, this.maxDurationSeconds),
      ...(request.policy === undefined ? {} : { Policy: request.policy }),
      ...(request.policyArns.length === 0
        ? {}
        : { PolicyArns: request.policyArns.map((arn) => ({ arn })) }),
      ...(request.tags.length === 0
        ? {}
        : { Tags: request.tags.map((t) => ({ Key: t.key, Value: t.value })) }),
    };
    // A fresh command per attempt: retries must not share SDK middleware state.
    const send = () => this.#sts.send(new GetFederationTokenCommand(input));
    const out = await callSts(this.#resilience, send, {
      operation: OPERATION,
      templateName: request.templateName,
    });
    return toIssuedCredentials(
      out.Credentials,
      {
        arn: out.FederatedUser?.Arn,
        id: out.FederatedUser?.FederatedUserId,
        packedPolicySize: out.PackedPolicySize,
      },
      OPERATION,
    );
  }
}
