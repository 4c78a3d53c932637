/**
 * The AWS SDK clients keyvend shares: one `STSClient` (and one `IAMClient`) per keyvend,
 * built once from `aws` in the config and reused by every issuer, so connections stay alive
 * between calls. By default the SDK's standard credential chain and environment endpoints
 * (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_IAM`) apply; when keyvend runs its local AWS
 * endpoint it passes an explicit `endpoint` and `credentials` instead.
 *
 * Hazard: keyvend's issuers retry STS calls themselves (`resilience.ts`, with a circuit
 * breaker and full-jitter backoff, `aws.maxAttempts` attempts in all). The STS client is
 * therefore built with the SDK's own retries off (`maxAttempts: 1`) unless a caller asks
 * otherwise; two retry layers would multiply attempts (3 × 3 = 9 calls per request).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { IAMClient, type IAMClientConfig } from '@aws-sdk/client-iam';
import { STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import type { AwsConfig } from '../config/schema.js';

/** Settings that replace the SDK's defaults (the local AWS endpoint, tests). */
export interface AwsClientOverrides {
  /** Endpoint URL used verbatim, e.g. `http://127.0.0.1:4566`. */
  endpoint?: string;
  /** Static credentials or a provider, instead of the SDK's default chain. */
  credentials?: STSClientConfig['credentials'];
  /**
   * Total SDK attempts per call. STS defaults to 1 (keyvend retries itself); IAM defaults
   * to `aws.maxAttempts`.
   */
  maxAttempts?: number;
}

/** Connections kept open per client; STS calls are short. */
const MAX_SOCKETS = 64;

/**
 * Builds keyvend's STS client. Call once per keyvend and share it; `destroy()` it on close.
 *
 * @example
 * ```ts
 * const sts = createStsClient(config.aws); // region, chain and AWS_ENDPOINT_URL_STS from the env
 * const local = createStsClient(config.aws, { endpoint: localAws.url, credentials });
 * ```
 */
export function createStsClient(aws: AwsConfig, overrides: AwsClientOverrides = {}): STSClient {
  return new STSClient(clientConfig(aws, overrides, 1));
}

/** Builds keyvend's IAM client (legacy IAM-user issuer, migration). Same rules as STS. */
export function createIamClient(aws: AwsConfig, overrides: AwsClientOverrides = {}): IAMClient {
  const config: IAMClientConfig = clientConfig(aws, overrides, aws.maxAttempts);
  return new IAMClient(config);
}

/** The settings both clients take, the same for both. */
type CommonConfig = Pick<
  STSClientConfig & IAMClientConfig,
  'maxAttempts' | 'requestHandler' | 'region' | 'endpoint' | 'credentials'
>;

function clientConfig(
  aws: AwsConfig,
  overrides: AwsClientOverrides,
  defaultAttempts: number,
): CommonConfig {
  const config: CommonConfig = {
    maxAttempts: overrides.maxAttempts ?? defaultAttempts,
    requestHandler: {
      connectionTimeout: aws.timeoutMs,
      requestTimeout: aws.timeoutMs,
      // Without this the handler only logs a warning when requestTimeout passes.
      throwOnRequestTimeout: true,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
    },
  };
  if (aws.region !== undefined) config.region = aws.region;
  if (overrides.endpoint !== undefined) config.endpoint = overrides.endpoint;
  if (overrides.credentials !== undefined) config.credentials = overrides.credentials;
  return config;
}
