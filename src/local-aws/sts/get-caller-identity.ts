/**
 * STS `GetCallerIdentity` (`reference/sts-iam.md` §5): who signed the request. It never needs
 * a permission, so it answers even under an explicit Deny and for federated users.
 */
import type { Operation, OperationContext } from '../operation.js';
import { xmlText } from '../xml.js';

async function handle(context: OperationContext): Promise<string> {
  const { account, caller } = context;
  let userId: string;
  let arn: string;
  if (caller === undefined || caller.kind === 'root') {
    userId = account.accountId;
    arn = account.rootArn;
  } else if (caller.kind === 'user') {
    userId = caller.user.userId;
    arn = caller.user.arn;
  } else {
    userId = caller.session.principalId;
    arn = caller.session.principalArn;
  }
  return xmlText('UserId', userId) + xmlText('Account', account.accountId) + xmlText('Arn', arn);
}

export const getCallerIdentity: Operation = { auth: 'sigv4', handle };
