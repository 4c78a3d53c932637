/**
 * The `assume-role` issuer: STS AssumeRole into one configured role, narrowed per device by
 * the rendered session policy (plus managed ARNs) and labelled with session tags
 * (`keyvend-device`, `keyvend-profile`, the profile's templates from device attributes) for
 * ABAC. RoleSessionName, and SourceIdentity unless turned off, are the principal name, so
 * CloudTrail and `${aws:userid}` (`ROLEID:SESSION`) name the device. keyvend's own identity
 * comes from the SDK's default chain: an instance or task role works, no long-term key.
 *
 * The TTL is clamped to the role's MaxSessionDuration (config `maxSessionDuration`, IAM's
 * default 3600 s): STS refuses longer sessions outright.
 */
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  type STSClient,
} from '@aws-sdk/client-sts';
import type { AssumeRoleIssuerConfig } from '../config/issuer-schemas.js';
import type { StsIssuerDeps } from './federation-token.js';
import type { IssuedCredentials, IssueRequest, Issuer } from './issuer.js';
import { Resilience } from './resilience.js';
import { buildSessionTags, presentTransitiveKeys } from './session-tags.js';
import { callSts, checkPrincipalName, fromAssumedRole } from './sts-call.js';

const OPERATION = 'sts:AssumeRole';
/** RoleSessionName's limit. */
const MAX_SESSION_NAME = 64;

/** Mints credentials with AssumeRole. */
export class AssumeRoleIssuer implements Issuer {
  readonly type = 'assume-role';
  /** The role's MaxSessionDuration: the longest TTL this issuer can grant. */
  readonly maxDurationSeconds: number;
  readonly #config: AssumeRoleIssuerConfig;
  readonly #sts: STSClient;
  readonly #resilience: Resilience;

  constructor(config: AssumeRoleIssuerConfig, deps: StsIssuerDeps) {
    this.#config = config;
    this.maxDurationSeconds = config.maxSessionDuration;
    this.#sts = deps.sts;
    this.#resilience = deps.resilience ?? new Resilience();
  }

  async issue(request: IssueRequest): Promise<IssuedCredentials> {
    checkPrincipalName(request.principalName, MAX_SESSION_NAME);
    const tags = buildSessionTags(this.#config.sessionTags, request);
    const transitive = presentTransitiveKeys(this.#config.transitiveTagKeys, tags);
    const input: AssumeRoleCommandInput = {
      RoleArn: this.#config.roleArn,
      RoleSessionName: request.principalName,
      DurationSeconds: Math.min(request.durationSeconds, this.maxDurationSeconds),
      Tags: tags.map((t) => ({ Key: t.key, Value: t.value })),
      ...(transitive.length === 0 ? {} : { TransitiveTagKeys: transitive }),
      ...(request.policy === undefined ? {} : { Policy: request.policy }),
      ...(request.policyArns.length === 0
        ? {}
        : { PolicyArns: request.policyArns.map((arn) => ({ arn })) }),
      ...(this.#config.externalId === undefined ? {} : { ExternalId: this.#config.externalId }),
      ...(this.#config.sourceIdentity ? { SourceIdentity: request.principalName } : {}),
    };
    // A fresh command per attempt: retries must not share SDK middleware state.
    const send = () => this.#sts.send(new AssumeRoleCommand(input));
    const out = await callSts(this.#resilience, send, {
      operation: OPERATION,
      templateName: request.templateName,
    });
    return fromAssumedRole(out, OPERATION);
  }
}
