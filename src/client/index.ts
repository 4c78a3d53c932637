/**
 * `keyvend/client` — the device side of keyvend for browsers, React Native and Node ≥ 20, with
 * no runtime dependencies. `createKeyvend` registers a device and hands out temporary AWS
 * credentials; `fromKeyvend` plugs it into any AWS SDK v3 client as its credential provider.
 *
 * @example
 * ```ts
 * import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
 * import { fromKeyvend, indexedDbStorage } from 'keyvend/client';
 *
 * const sts = new STSClient({
 *   region: 'us-east-1',
 *   credentials: fromKeyvend({
 *     url: 'https://keyvend.example.com',
 *     profile: 'web',
 *     storage: indexedDbStorage(),
 *     keyBound: true,
 *   }),
 * });
 * const me = await sts.send(new GetCallerIdentityCommand({}));
 * ```
 *
 * @packageDocumentation
 */
export {
  type ClientErrorCode,
  isKeyvendClientError,
  type KeyvendChallenge,
  KeyvendClientError,
  type KeyvendErrorCode,
} from './client-error.js';
export {
  type AwsCredentialIdentity,
  type AwsCredentialIdentityProvider,
  fromKeyvend,
} from './credential-provider.js';
export { createDpopProof, exportPublicJwk, generateDeviceKey } from './dpop.js';
export {
  type ChallengeHandler,
  createKeyvend,
  type FetchLike,
  type FetchResponseLike,
  type KeyvendClient,
  type KeyvendCredentials,
  type KeyvendOptions,
  type KeyvendRegistration,
} from './keyvend-client.js';
export { leadingZeroBits, solveProofOfWork } from './proof-of-work.js';
export {
  type IndexedDbStorageOptions,
  indexedDbStorage,
  type KeyvendStorage,
  memoryStorage,
  type WebStorageLike,
  webStorage,
} from './storage.js';
