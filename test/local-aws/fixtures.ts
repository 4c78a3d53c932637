/**
 * Shared set-up for the local AWS endpoint's tests: a quiet endpoint on 127.0.0.1:0 and real
 * `@aws-sdk/client-sts` clients pointed at it.
 */
import { STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import {
  type LocalAws,
  type LocalAwsOptions,
  type PolicyDocument,
  startLocalAws,
} from '../../src/local-aws/index.js';
import type { PolicyStatement } from '../../src/local-aws/policy-document.js';

export const REGION = 'eu-west-1';

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** Starts an endpoint that logs nothing. */
export function startQuiet(options: LocalAwsOptions = {}): Promise<LocalAws> {
  return startLocalAws({ log: () => {}, ...options });
}

/** A real STS client for `creds` against the endpoint. */
export function stsFor(aws: LocalAws, creds: Creds, config: Partial<STSClientConfig> = {}) {
  return new STSClient({ region: REGION, endpoint: aws.url, credentials: creds, ...config });
}

/** Credentials of an SDK answer. */
export function credsOf(answer: {
  Credentials?: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string };
}): Creds {
  const c = answer.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error('no credentials');
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
  };
}

/** The rejection of `promise`, failing the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<{
  name: string;
  message: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  Code?: string;
  Type?: string;
}> {
  try {
    await promise;
  } catch (error) {
    return error as never;
  }
  throw new Error('expected the call to fail');
}

export const S3_READ_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/*' }],
});

/** What keyvend's own identity may do on a role: assume it, with session tags and a source identity. */
export const KEYVEND_ROLE_ACTIONS = ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'];

/** A role trust policy allowing `principal` (an ARN) the `actions`, under `condition`. */
export function trustPolicy(
  principal: string,
  actions: string[] = ['sts:AssumeRole'],
  condition?: Record<string, Record<string, string>>,
): PolicyDocument & { Statement: PolicyStatement[] } {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: principal },
        Action: actions,
        ...(condition ? { Condition: condition } : {}),
      },
    ],
  };
}
