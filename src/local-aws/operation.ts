/**
 * The shape every local AWS operation has. The server parses and authenticates a request, then
 * calls the operation found in its service's table (`operations.ts`) with an
 * `OperationContext`; the operation returns the XML body of its `<OpResult>` element (or
 * undefined for operations with no output) or throws an `AwsError`.
 */
import type { Account, Caller } from './account.js';
import type { Knobs } from './knobs.js';
import type { OidcProviders } from './oidc-providers.js';
import type { QueryParams } from './query-protocol.js';
import type { OidcKeyCache } from './web-identity-token.js';

export type ServiceName = 'sts' | 'iam';

export interface OperationContext {
  service: ServiceName;
  action: string;
  params: QueryParams;
  /** The authenticated caller; undefined for unsigned operations. */
  caller: Caller | undefined;
  /** The region the request was signed for (`us-east-1` when unsigned). */
  region: string;
  account: Account;
  knobs: Knobs;
  oidc: OidcProviders;
  /** JWKS cache of the OIDC providers. */
  oidcKeys: OidcKeyCache;
  requestId: string;
}

export interface Operation {
  /** `sigv4` operations need a signed request; `none` ones are sent unsigned by the SDK. */
  auth: 'sigv4' | 'none';
  handle(context: OperationContext): Promise<string | undefined>;
}

/** Operations of one service, by `Action` name. */
export type OperationTable = Readonly<Record<string, Operation>>;
