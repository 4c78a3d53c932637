/**
 * The issuer contract: how a set of temporary AWS credentials is minted for one device.
 * The vend service renders the policy, picks the TTL and derives the principal name; the
 * issuer makes the AWS call and translates AWS errors into `KeyvendError`s at its boundary
 * (raw AWS errors never reach a device). The credential cache sits in front of every issuer.
 */
import type { ProfileConfig } from '../config/schema.js';
import type { DeviceRecord } from '../stores/store.js';

export interface IssueRequest {
  profileName: string;
  profile: ProfileConfig;
  device: DeviceRecord;
  /** Stable principal name (≤ 32 chars of `[\w+=,.@-]` for federation tokens). */
  principalName: string;
  /** Rendered, minified session policy JSON; undefined when the profile has none. */
  policy: string | undefined;
  /** Template file name, for errors that must name it. */
  templateName: string;
  policyArns: string[];
  /** Already clamped to the profile's and STS's bounds. */
  durationSeconds: number;
  /** Session tags (issuers that support them). */
  tags: { key: string; value: string }[];
}

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Taken from STS's own answer. */
  expiration: Date;
  /** ARN of the principal the credentials stand for, when STS says. */
  principalArn?: string;
  /** `aws:userid` of that principal, when STS says. */
  principalId?: string;
  packedPolicySize?: number;
  /** 12-digit account id, when known. */
  accountId?: string;
}

/** What a `web-identity` issuer in client mode hands the device instead of credentials. */
export interface WebIdentityGrant {
  roleArn: string;
  roleSessionName: string;
  /** keyvend's ID token: the device passes it to STS as `WebIdentityToken`. */
  webIdentityToken: string;
  /** The token's `exp`: the device must call STS before this. */
  tokenExpiration: Date;
  durationSeconds: number;
  policy?: string;
  policyArns: string[];
}

export interface Issuer {
  /** Issuer type from the config, e.g. `federation-token`. */
  readonly type: string;
  /** The longest DurationSeconds this issuer can ask for (the role's maximum, or STS's). */
  readonly maxDurationSeconds?: number;
  /** `client`: the device calls STS itself with `grant()`'s token; keyvend mints nothing. */
  readonly mode?: 'server' | 'client';
  issue(request: IssueRequest): Promise<IssuedCredentials>;
  /** Client mode only: the token and parameters for the device's own STS call. */
  grant?(request: IssueRequest): Promise<WebIdentityGrant>;
}
