/**
 * The dispatch table of the local AWS endpoint: one table per service, mapping each Query
 * `Action` to its operation. A new operation is one file and one line here (IAM's operations
 * come with the legacy-path issue).
 */
import type { OperationTable, ServiceName } from './operation.js';
import { assumeRole } from './sts/assume-role.js';
import { assumeRoleWithWebIdentity } from './sts/assume-role-with-web-identity.js';
import { getCallerIdentity } from './sts/get-caller-identity.js';
import { getFederationToken } from './sts/get-federation-token.js';

export const STS_OPERATIONS: OperationTable = {
  AssumeRole: assumeRole,
  AssumeRoleWithWebIdentity: assumeRoleWithWebIdentity,
  GetCallerIdentity: getCallerIdentity,
  GetFederationToken: getFederationToken,
};

export const IAM_OPERATIONS: OperationTable = {};

export const OPERATIONS: Readonly<Record<ServiceName, OperationTable>> = {
  sts: STS_OPERATIONS,
  iam: IAM_OPERATIONS,
};

/** API versions (`Version=`) of each service. */
export const API_VERSIONS: Readonly<Record<ServiceName, string>> = {
  sts: '2011-06-15',
  iam: '2010-05-08',
};
