/**
 * `fromKeyvend`: keyvend as a credential provider for the AWS SDK for JavaScript v3. The SDK
 * calls the provider when it has no credentials or when the ones it holds are about to expire
 * (it checks `expiration`); the keyvend client behind it registers, caches and refreshes.
 *
 * The identity types are declared here structurally (they match `@smithy/types`'
 * `AwsCredentialIdentity` and `AwsCredentialIdentityProvider`) so that `keyvend/client` needs
 * no AWS package at runtime or for its type declarations.
 */
import { createKeyvend, type KeyvendClient, type KeyvendOptions } from './keyvend-client.js';

/** AWS credentials as the SDK v3 reads them (structurally `@smithy/types`' type). */
export interface AwsCredentialIdentity {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
  readonly credentialScope?: string;
  readonly accountId?: string;
}

/** A function the SDK calls for credentials (structurally `@smithy/types`' type). */
export type AwsCredentialIdentityProvider = (
  identityProperties?: Record<string, unknown>,
) => Promise<AwsCredentialIdentity>;

/**
 * A credential provider for any AWS SDK v3 client, backed by keyvend. Pass the options of
 * `createKeyvend`, or a client you already made (to share its cache with other code).
 *
 * @example
 * ```ts
 * import { S3Client } from '@aws-sdk/client-s3';
 * import { fromKeyvend, webStorage } from 'keyvend/client';
 *
 * const s3 = new S3Client({
 *   region: 'eu-west-1',
 *   credentials: fromKeyvend({
 *     url: 'https://keyvend.example.com',
 *     profile: 'web',
 *     storage: webStorage(localStorage),
 *   }),
 * });
 * ```
 */
export function fromKeyvend(source: KeyvendOptions | KeyvendClient): AwsCredentialIdentityProvider {
  const client = isClient(source) ? source : createKeyvend(source);
  return async () => {
    const c = await client.credentials();
    return {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken,
      expiration: c.expiration,
      ...(c.accountId === undefined ? {} : { accountId: c.accountId }),
    };
  };
}

function isClient(source: KeyvendOptions | KeyvendClient): source is KeyvendClient {
  return typeof (source as Partial<KeyvendClient>).credentials === 'function';
}
