/**
 * The stable name STS sees for a device or user: `kv-` + its id. Ids are random and
 * `d-`/`u-` + 24 base32 characters (`stores/ids.ts`), so a name is 29 characters, never
 * collides, and never carries user-typed text. In AWS it shows up as `${aws:userid}` =
 * `ACCOUNT:kv-d-…` for a federated user, which is what per-device policies key on. A name
 * that would break AWS's limits is an error, never silently cut (hashicorp/vault#1063).
 */

const PREFIX = 'kv-';
/** The characters STS allows in `Name` and `RoleSessionName`: `[\w+=,.@-]`. */
const NAME_CHARS = /^[A-Za-z0-9_+=,.@-]+$/;

function checkedName(id: string, max: number, what: string): string {
  const name = `${PREFIX}${id}`;
  if (!NAME_CHARS.test(id)) {
    throw new RangeError(`${what}: the id holds characters STS does not allow (only [\\w+=,.@-])`);
  }
  if (name.length > max) {
    throw new RangeError(`${what}: ${name.length} characters is over STS's limit of ${max}`);
  }
  return name;
}

/**
 * GetFederationToken `Name` for a device or user id: `kv-<id>`, 2–32 characters of
 * `[\w+=,.@-]`.
 *
 * @throws RangeError when the id has other characters or the name would exceed 32.
 * @example `federationPrincipalName('d-abcdefghijklmnopqrstuvwx')` → `'kv-d-abcdefghijklmnopqrstuvwx'`
 */
export function federationPrincipalName(id: string): string {
  return checkedName(id, 32, 'GetFederationToken Name');
}

/**
 * AssumeRole `RoleSessionName` for a device or user id: `kv-<id>`, 2–64 characters of
 * `[\w+=,.@-]`.
 *
 * @throws RangeError when the id has other characters or the name would exceed 64.
 */
export function roleSessionName(id: string): string {
  return checkedName(id, 64, 'RoleSessionName');
}

/**
 * The principal name for an issuer type: the federated user name for `federation-token`, the
 * role session name for every role-based issuer. For a device linked to a user, pass the
 * user id, so per-user data follows the person across devices.
 */
export function principalNameFor(issuerType: string, id: string): string {
  return issuerType === 'federation-token' ? federationPrincipalName(id) : roleSessionName(id);
}
