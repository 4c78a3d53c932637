/**
 * The storage contract every backend implements (SQLite now; PostgreSQL later). Each method
 * says what it mutates, what "missing" returns and what is atomic. Atomic steps run inside
 * the backend (a transaction, an upsert, a conditional update), never as read-modify-write
 * in JavaScript. One contract suite (`test/stores/store-contract.ts`) runs against every
 * backend.
 *
 * Records carry a `version` (schema version of the record) so later migrations can upgrade
 * old rows on read.
 */
import type { JWK } from 'jose';

export type DeviceStatus = 'active' | 'disabled';

export interface DeviceRecord {
  /** Opaque random id, e.g. `d-k3v9x…` (see `newDeviceId`). */
  id: string;
  profile: string;
  status: DeviceStatus;
  /** Public JWK for key-bound devices (proof of possession), else null. */
  publicKey: JWK | null;
  /** RFC 7638 SHA-256 thumbprint of `publicKey`, base64url; null when not key-bound. */
  keyThumbprint: string | null;
  /** Stable external identity (e.g. `oidc:<issuer>#<sub>`), unique per profile; else null. */
  externalId: string | null;
  /** The user this device is linked to (accounts arrive in a later issue); else null. */
  userId: string | null;
  /** Free-form string attributes from validators (become session tags/template values). */
  attributes: Record<string, string>;
  createdAt: Date;
  lastSeenAt: Date | null;
  disabledAt: Date | null;
  version: number;
}

export interface NewDevice {
  id: string;
  profile: string;
  publicKey?: JWK | null;
  keyThumbprint?: string | null;
  externalId?: string | null;
  attributes?: Record<string, string>;
  createdAt: Date;
}

export interface ListDevicesQuery {
  profile?: string;
  status?: DeviceStatus;
  /** At most this many (default 100, max 1000). */
  limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Present when more items remain. */
  nextCursor?: string;
}

export interface SigningKeyRecord {
  kid: string;
  /** What the key signs: registration tokens, or ID tokens for the OIDC provider. */
  use: 'registration' | 'oidc';
  alg: string;
  /** Private JWK (includes `d`). */
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: Date;
  /** When it stopped being the signing key (still verifies, still published); null while current. */
  retiredAt: Date | null;
}

export interface InviteRecord {
  /** SHA-256 of the code, hex. The code itself is never stored. */
  codeHash: string;
  profile: string;
  usesTotal: number;
  usesLeft: number;
  expiresAt: Date | null;
  createdAt: Date;
}

export type ConsumeInviteResult = 'consumed' | 'unknown' | 'exhausted' | 'expired';

export interface Store {
  /** Backend name for logs: `sqlite`, `postgres`. */
  readonly kind: string;

  // ---- devices -------------------------------------------------------------------------

  /**
   * Inserts a device. Throws `DuplicateError` if `id` exists, or if `externalId` is set and
   * another device of the same profile already has it. Returns the stored record.
   */
  createDevice(device: NewDevice): Promise<DeviceRecord>;

  /**
   * The device as last committed by any writer, or null when no device has this id. Runs on
   * every vend (a disabled device must be refused at once): a backend may answer from memory
   * only while it can prove nothing changed since. The record may be shared and frozen.
   */
  getDevice(id: string): Promise<DeviceRecord | null>;

  /** The device of `profile` holding `externalId`, or null. */
  findDeviceByExternalId(profile: string, externalId: string): Promise<DeviceRecord | null>;

  /**
   * Sets status (and `disabledAt` when disabling, null when enabling). Returns the updated
   * record, or null when the device does not exist.
   */
  setDeviceStatus(id: string, status: DeviceStatus, at: Date): Promise<DeviceRecord | null>;

  /** Sets `lastSeenAt` if the device exists; a missing device is ignored. */
  touchDevice(id: string, at: Date): Promise<void>;

  /** Devices ordered by creation (oldest first), paginated. */
  listDevices(query?: ListDevicesQuery): Promise<Page<DeviceRecord>>;

  /** Number of devices, optionally of one profile / status. */
  countDevices(query?: { profile?: string; status?: DeviceStatus }): Promise<number>;

  // ---- signing keys -------------------------------------------------------------------

  /** All keys of a use, newest first (current = first with `retiredAt` null). */
  listSigningKeys(use: SigningKeyRecord['use']): Promise<SigningKeyRecord[]>;

  /**
   * Atomically inserts `key` as the current key of its use and sets `retiredAt = at` on the
   * previous current key(s) of that use. Throws `DuplicateError` on a kid collision.
   */
  rotateSigningKey(key: SigningKeyRecord, at: Date): Promise<void>;

  /** Deletes keys of `use` retired before `before` (they stop verifying). Returns how many. */
  deleteRetiredSigningKeys(use: SigningKeyRecord['use'], before: Date): Promise<number>;

  // ---- short-lived shared state (replay markers, quotas) ------------------------------

  /**
   * Records `key` as used until `expiresAt`. Returns true if this call recorded it, false if
   * it was already recorded and not yet expired. Atomic: of concurrent calls with one key,
   * exactly one gets true. Expired markers may be purged at any time.
   */
  markOnce(key: string, expiresAt: Date): Promise<boolean>;

  /**
   * Adds 1 to the counter `key` in the fixed window that started at `windowStart` (the
   * counter resets when `windowStart` changes) and returns the new count. Atomic.
   * `expiresAt` lets the backend purge old windows.
   */
  incrementCounter(key: string, windowStart: Date, expiresAt: Date): Promise<number>;

  // ---- invites ------------------------------------------------------------------------

  /** Inserts an invite. Throws `DuplicateError` on a hash collision. */
  createInvite(invite: InviteRecord): Promise<void>;

  /**
   * Atomically takes one use of the invite for `profile` at time `now`: 'consumed' when a use
   * was taken, 'unknown' (no such code for that profile), 'expired' or 'exhausted'.
   * Of N concurrent calls on a 1-use invite exactly one gets 'consumed'.
   */
  consumeInvite(codeHash: string, profile: string, now: Date): Promise<ConsumeInviteResult>;

  /** Invites of a profile (or all), newest first. */
  listInvites(profile?: string): Promise<InviteRecord[]>;

  // ---- lifecycle ----------------------------------------------------------------------

  /** Checks the backend answers (for /readyz). Throws when it does not. */
  ping(): Promise<void>;

  /** Closes connections; later calls fail. Idempotent. */
  close(): Promise<void>;
}

/** A unique constraint was violated. `field` names which. */
export class DuplicateError extends Error {
  override readonly name = 'DuplicateError';
  constructor(readonly field: 'id' | 'externalId' | 'kid' | 'codeHash') {
    super(`duplicate ${field}`);
  }
}
