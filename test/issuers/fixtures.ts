/**
 * Shared helpers for the issuer tests: an `IssueRequest` for a device, the `aws` config block
 * for a client pointed at the local endpoint, and resilience settings that never wait.
 */
import Fastify from 'fastify';
import type { AwsConfig, ProfileConfig } from '../../src/config/schema.js';
import { isKeyvendError, type KeyvendError } from '../../src/errors.js';
import type { IssueRequest } from '../../src/issuers/issuer.js';
import type { ResilienceOptions } from '../../src/issuers/resilience.js';
import { oidcProviderRoutes } from '../../src/routes/oidc-provider.js';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.js';
import type { DeviceRecord } from '../../src/stores/store.js';
import { KeyRing } from '../../src/tokens/key-ring.js';

export const TEMPLATE = 'device-s3.json';

export function awsConfig(over: Partial<AwsConfig> = {}): AwsConfig {
  return {
    region: 'us-east-1',
    maxAttempts: 3,
    timeoutMs: 2000,
    local: { enabled: true, host: '127.0.0.1', port: 0, accountId: '000000000000' },
    circuitBreaker: { failureThreshold: 5, openSeconds: 10 },
    ...over,
  };
}

/** Retries without waiting (random() = 0 makes every full-jitter backoff 0 ms). */
export const noWait: ResilienceOptions = { random: () => 0 };

export function device(id: string, over: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    id,
    profile: 'mobile',
    status: 'active',
    publicKey: null,
    keyThumbprint: null,
    externalId: null,
    userId: null,
    attributes: {},
    createdAt: new Date(0),
    lastSeenAt: null,
    disabledAt: null,
    version: 1,
    ...over,
  };
}

export function issueRequest(
  dev: DeviceRecord,
  principalName: string,
  over: Partial<IssueRequest> = {},
): IssueRequest {
  const profile = {
    issuer: { type: 'federation-token' },
    ttl: { default: 3600, max: 43_200 },
    managedPolicyArns: [],
  } as unknown as ProfileConfig;
  return {
    profileName: dev.profile,
    profile,
    device: dev,
    principalName,
    policy: undefined,
    templateName: TEMPLATE,
    policyArns: [],
    durationSeconds: 3600,
    tags: [],
    ...over,
  };
}

/** A policy allowing s3:GetObject on the device's own prefix of `bucket`. */
export function devicePolicy(bucket: string, prefix: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::${bucket}/devices/${prefix}/*`,
      },
    ],
  });
}

/** The KeyvendError a promise rejects with (fails the test if it resolves or throws else). */
export async function rejection(p: Promise<unknown>): Promise<KeyvendError> {
  const outcome = await p.then(
    () => new Error('expected a rejection, got a result'),
    (e: unknown) => e,
  );
  if (!isKeyvendError(outcome)) throw outcome;
  return outcome;
}

/** keyvend's OIDC provider routes alone, on a loopback port, over an in-memory key ring. */
export interface OidcProviderServer {
  /** The issuer URL (`http://127.0.0.1:PORT`). */
  url: string;
  keyRing: KeyRing;
  close(): Promise<void>;
}

export async function startOidcProvider(): Promise<OidcProviderServer> {
  const store = await SqliteStore.open(':memory:');
  const keyRing = await KeyRing.open(store, { use: 'oidc', alg: 'RS256' });
  let url = '';
  const app = Fastify();
  // The issuer URL is only known once listening, so the plugin gets a function.
  app.register(oidcProviderRoutes, { issuerUrl: () => url, keyRing });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    keyRing,
    close: async () => {
      await app.close();
      await store.close();
    },
  };
}
