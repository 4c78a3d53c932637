/**
 * The embedded default `Store`: one SQLite file through better-sqlite3, in WAL mode with
 * `synchronous=FULL`, so an acknowledged write survives a crash or power loss. Every atomic
 * method is one SQL statement (an upsert, a conditional `UPDATE … RETURNING`) or one
 * transaction, so several keyvend processes (the server and a CLI) may share the file.
 * Statements are prepared once. better-sqlite3 is synchronous; the async methods exist to
 * satisfy the `Store` contract, which network backends need.
 *
 * Hazard — three writes run on the hot paths: `touchDevice` (every vend), `markOnce` (every
 * key-bound vend: the DPoP replay marker) and `incrementCounter` (registration quotas). They
 * go through a second connection to the same file with `synchronous=NORMAL`: in WAL mode its
 * commits survive a crash of the process, but skip the fsync (≈20 µs instead of ≈2 ms), so a
 * power loss may forget the last few of them — a `lastSeenAt`, or a replay marker that would
 * have expired within a minute anyway — and never corrupts the file. Devices, keys and
 * invites stay on the `FULL` connection. A `:memory:` database has one connection only.
 *
 * `getDevice` runs on every vend, and a SQLite read transaction costs tens of microseconds
 * under load. So devices read once are kept in memory, and `getDevice` first asks the
 * wal-index header (`wal-index.ts`, one lock-free `pread`) whether anything was committed
 * since the last look. Nothing → the remembered record is the committed one. Something → the
 * `device_changes` log (filled by triggers on `devices`, whoever writes) names the devices to
 * drop before answering. The look runs in the event loop's check phase (`setImmediate`), once
 * for every `getDevice` begun during that loop turn: all of them started before it, so it is
 * as fresh for each as its own would be, and under load one `pread` serves dozens of vends.
 * A device disabled by another process is thus refused by every request begun after that
 * process's commit returned, as if read from the file. `:memory:` keeps no copies. Records
 * from `getDevice` are frozen: they may be shared between callers.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { JWK } from 'jose';
import { ConfigError, KeyvendError } from '../../errors.js';
import { LruCache } from '../../lru-cache.js';
import {
  type ConsumeInviteResult,
  type DeviceRecord,
  type DeviceStatus,
  DuplicateError,
  type InviteRecord,
  type ListDevicesQuery,
  type NewDevice,
  type Page,
  type SigningKeyRecord,
  type Store,
} from '../store.js';
import { applyMigrations } from './migrations.js';
import { WalIndexHeader } from './wal-index.js';

export interface SqliteStoreOptions {
  /** The clock `markOnce` compares marker expiry against. Default: the system clock. */
  clock?: () => Date;
  /** How long a write waits for another connection's lock before failing (default 5000). */
  busyTimeoutMs?: number;
  /** Most device records kept in memory between reads (default 10,000; 0 keeps none). */
  deviceCacheSize?: number;
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** Every this many marker/counter writes, a bounded batch of expired rows is deleted. */
const PURGE_EVERY = 1000;
const PURGE_BATCH = 500;

interface DeviceRow {
  id: string;
  profile: string;
  status: string;
  public_key: string | null;
  key_thumbprint: string | null;
  external_id: string | null;
  user_id: string | null;
  attributes: string;
  created_at: number;
  last_seen_at: number | null;
  disabled_at: number | null;
  version: number;
}

interface SigningKeyRow {
  kid: string;
  use: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  created_at: number;
  retired_at: number | null;
}

interface InviteRow {
  code_hash: string;
  profile: string;
  uses_total: number;
  uses_left: number;
  expires_at: number | null;
  created_at: number;
}

type Params = Record<string, string | number | null>;

function dateOrNull(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

function toDevice(row: DeviceRow): DeviceRecord {
  // Version 1 is the only record shape so far; upgrades of older rows go here.
  return {
    id: row.id,
    profile: row.profile,
    status: row.status as DeviceStatus,
    publicKey: row.public_key === null ? null : (JSON.parse(row.public_key) as JWK),
    keyThumbprint: row.key_thumbprint,
    externalId: row.external_id,
    userId: row.user_id,
    attributes: JSON.parse(row.attributes) as Record<string, string>,
    createdAt: new Date(row.created_at),
    lastSeenAt: dateOrNull(row.last_seen_at),
    disabledAt: dateOrNull(row.disabled_at),
    version: row.version,
  };
}

/** A record that may be handed to several callers: none of them can change it for the rest. */
function frozen(device: DeviceRecord): DeviceRecord {
  Object.freeze(device.attributes);
  if (device.publicKey !== null) Object.freeze(device.publicKey);
  return Object.freeze(device);
}

function toSigningKey(row: SigningKeyRow): SigningKeyRecord {
  return {
    kid: row.kid,
    use: row.use as SigningKeyRecord['use'],
    alg: row.alg,
    privateJwk: JSON.parse(row.private_jwk) as JWK,
    publicJwk: JSON.parse(row.public_jwk) as JWK,
    createdAt: new Date(row.created_at),
    retiredAt: dateOrNull(row.retired_at),
  };
}

function toInvite(row: InviteRow): InviteRecord {
  return {
    codeHash: row.code_hash,
    profile: row.profile,
    usesTotal: row.uses_total,
    usesLeft: row.uses_left,
    expiresAt: dateOrNull(row.expires_at),
    createdAt: new Date(row.created_at),
  };
}

const UNIQUE_COLUMNS: [string, DuplicateError['field']][] = [
  ['devices.external_id', 'externalId'],
  ['devices.id', 'id'],
  ['signing_keys.kid', 'kid'],
  ['invites.code_hash', 'codeHash'],
];

/** Turns SQLite's errors into the contract's: unique violations, lock timeouts. */
function translate(error: unknown): never {
  if (error instanceof Database.SqliteError) {
    if (
      error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
      error.code === 'SQLITE_CONSTRAINT_UNIQUE'
    ) {
      const hit = UNIQUE_COLUMNS.find(([column]) => error.message.includes(column));
      if (hit) throw new DuplicateError(hit[1]);
    }
    if (error.code.startsWith('SQLITE_BUSY') || error.code.startsWith('SQLITE_LOCKED')) {
      throw new KeyvendError('KEYVEND_STORE_UNAVAILABLE', undefined, { cause: error });
    }
  }
  throw error;
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    translate(error);
  }
}

function encodeCursor(row: DeviceRow): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    !Number.isSafeInteger(value[0]) ||
    typeof value[1] !== 'string'
  ) {
    throw new KeyvendError('KEYVEND_BAD_REQUEST', 'cursor is not valid.');
  }
  return { createdAt: value[0] as number, id: value[1] };
}

function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE;
  return Math.min(MAX_PAGE, Math.max(1, Math.floor(limit)));
}

function configure(db: Database.Database, synchronous: 'FULL' | 'NORMAL', busyMs: number): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyMs))}`);
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
}

function prepareStatements(db: Database.Database) {
  return {
    insertDevice: db.prepare<Params, DeviceRow>(
      `INSERT INTO devices (id, profile, status, public_key, key_thumbprint, external_id,
         attributes, created_at, version)
       VALUES (@id, @profile, 'active', @publicKey, @keyThumbprint, @externalId,
         @attributes, @createdAt, 1)
       RETURNING *`,
    ),
    getDevice: db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE id = ?'),
    findByExternalId: db.prepare<[string, string], DeviceRow>(
      'SELECT * FROM devices WHERE profile = ? AND external_id = ?',
    ),
    setStatus: db.prepare<Params, DeviceRow>(
      `UPDATE devices
       SET status = @status, disabled_at = CASE WHEN @status = 'disabled' THEN @at END
       WHERE id = @id
       RETURNING *`,
    ),
    listKeys: db.prepare<[string], SigningKeyRow>(
      'SELECT * FROM signing_keys WHERE use = ? ORDER BY created_at DESC, rowid DESC',
    ),
    retireCurrentKey: db.prepare<[number, string]>(
      'UPDATE signing_keys SET retired_at = ? WHERE use = ? AND retired_at IS NULL',
    ),
    insertKey: db.prepare<Params>(
      `INSERT INTO signing_keys (kid, use, alg, private_jwk, public_jwk, created_at, retired_at)
       VALUES (@kid, @use, @alg, @privateJwk, @publicJwk, @createdAt, NULL)`,
    ),
    deleteRetiredKeys: db.prepare<[string, number]>(
      'DELETE FROM signing_keys WHERE use = ? AND retired_at IS NOT NULL AND retired_at < ?',
    ),
    // Inserts, or takes over an expired marker; RETURNING yields no row when the key is held.
    markOnce: db
      .prepare<[string, number, number], number>(
        `INSERT INTO markers (key, expires_at) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
           WHERE markers.expires_at <= ?
         RETURNING 1`,
      )
      .pluck(),
    // A newer window restarts the count; a late call for an older window (clock skew between
    // instances) counts into the newer one rather than resetting it.
    incrementCounter: db
      .prepare<[string, number, number], number>(
        `INSERT INTO counters (key, window_start, count, expires_at) VALUES (?, ?, 1, ?)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN excluded.window_start > counters.window_start THEN 1
                        ELSE counters.count + 1 END,
           window_start = MAX(counters.window_start, excluded.window_start),
           expires_at = MAX(counters.expires_at, excluded.expires_at)
         RETURNING count`,
      )
      .pluck(),
    purgeMarkers: db.prepare<[number, number]>(
      `DELETE FROM markers WHERE key IN
         (SELECT key FROM markers WHERE expires_at <= ? LIMIT ?)`,
    ),
    purgeCounters: db.prepare<[number, number]>(
      `DELETE FROM counters WHERE key IN
         (SELECT key FROM counters WHERE expires_at <= ? LIMIT ?)`,
    ),
    insertInvite: db.prepare<Params>(
      `INSERT INTO invites (code_hash, profile, uses_total, uses_left, expires_at, created_at)
       VALUES (@codeHash, @profile, @usesTotal, @usesLeft, @expiresAt, @createdAt)`,
    ),
    consumeInvite: db.prepare<Params, { uses_left: number }>(
      `UPDATE invites SET uses_left = uses_left - 1
       WHERE code_hash = @codeHash AND profile = @profile AND uses_left > 0
         AND (expires_at IS NULL OR expires_at > @now)
       RETURNING uses_left`,
    ),
    inviteState: db.prepare<[string, string], { uses_left: number; expires_at: number | null }>(
      'SELECT uses_left, expires_at FROM invites WHERE code_hash = ? AND profile = ?',
    ),
    listAllInvites: db.prepare<[], InviteRow>(
      'SELECT * FROM invites ORDER BY created_at DESC, rowid DESC',
    ),
    listProfileInvites: db.prepare<[string], InviteRow>(
      'SELECT * FROM invites WHERE profile = ? ORDER BY created_at DESC, rowid DESC',
    ),
    deviceChangesSince: db.prepare<[number], { seq: number; device_id: string }>(
      'SELECT seq, device_id FROM device_changes WHERE seq > ? ORDER BY seq',
    ),
    oldestDeviceChange: db
      .prepare<[], number | null>('SELECT MIN(seq) FROM device_changes')
      .pluck(),
    newestDeviceChange: db
      .prepare<[], number | null>('SELECT MAX(seq) FROM device_changes')
      .pluck(),
    ping: db.prepare<[], number>('SELECT 1').pluck(),
  };
}

/**
 * `Store` on a SQLite file.
 *
 * @example
 * ```ts
 * const store = await SqliteStore.open('./data/keyvend.db');
 * await store.createDevice({ id: newDeviceId(), profile: 'mobile', createdAt: new Date() });
 * ```
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  /** The database file, or `:memory:`. */
  readonly path: string;
  readonly #db: Database.Database;
  readonly #touchDb: Database.Database;
  readonly #clock: () => Date;
  readonly #sql: ReturnType<typeof prepareStatements>;
  /** The same statements on the NORMAL connection, for the hot-path writes (see top). */
  readonly #fast: ReturnType<typeof prepareStatements>;
  readonly #touch: Database.Statement<[number, string, number]>;
  /** Statements whose text depends on which filters a query sets, by their SQL. */
  readonly #dynamic = new Map<string, Database.Statement<Params, unknown>>();
  #writesSincePurge = 0;
  #closed = false;
  /** Devices read before, valid while `#walIndex` reports no commit (see top). */
  readonly #devices: LruCache<string, DeviceRecord>;
  readonly #walIndex: WalIndexHeader | undefined;
  /** The newest `device_changes.seq` already applied to `#devices`. */
  #deviceChangeSeq = 0;
  /** The look at the wal-index that `getDevice` calls begun this loop turn wait for. */
  #nextLook: Promise<boolean> | undefined;

  private constructor(
    path: string,
    db: Database.Database,
    touchDb: Database.Database,
    clock: () => Date,
    deviceCacheSize: number,
  ) {
    this.path = path;
    this.#db = db;
    this.#touchDb = touchDb;
    this.#clock = clock;
    this.#sql = prepareStatements(db);
    this.#fast = touchDb === db ? this.#sql : prepareStatements(touchDb);
    this.#touch = touchDb.prepare(
      `UPDATE devices SET last_seen_at = ?
       WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)`,
    );
    this.#devices = new LruCache(deviceCacheSize);
    // The header first, then the log: a commit between the two is seen again next time.
    this.#walIndex =
      path === ':memory:' || deviceCacheSize === 0 ? undefined : WalIndexHeader.open(path);
    this.#deviceChangeSeq = this.#sql.newestDeviceChange.get() ?? 0;
  }

  /**
   * Opens (creating it and its parent directories if needed) and migrates the database at
   * `path`; `':memory:'` gives a private in-memory database for tests. Throws `ConfigError`
   * when the file cannot be opened as a database or was written by a newer keyvend.
   */
  static async open(path: string, opts: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const clock = opts.clock ?? (() => new Date());
    const busyMs = opts.busyTimeoutMs ?? 5000;
    const memory = path === ':memory:';
    const file = memory ? path : resolve(path);
    const opened: Database.Database[] = [];
    try {
      if (!memory) await mkdir(dirname(file), { recursive: true });
      const db = new Database(file);
      opened.push(db);
      if (!memory) {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal') throw new Error(`journal_mode is ${String(mode)}, WAL is required`);
      }
      configure(db, 'FULL', busyMs);
      applyMigrations(db, file, undefined, clock);
      let touchDb = db;
      if (!memory) {
        touchDb = new Database(file);
        opened.push(touchDb);
        configure(touchDb, 'NORMAL', busyMs);
      }
      return new SqliteStore(file, db, touchDb, clock, opts.deviceCacheSize ?? 10_000);
    } catch (error) {
      for (const db of opened) db.close();
      if (error instanceof ConfigError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(file, [`cannot open the SQLite database: ${reason}`]);
    }
  }

  // ---- devices -------------------------------------------------------------------------

  async createDevice(device: NewDevice): Promise<DeviceRecord> {
    const row = guard(() =>
      this.#sql.insertDevice.get({
        id: device.id,
        profile: device.profile,
        publicKey: device.publicKey ? JSON.stringify(device.publicKey) : null,
        keyThumbprint: device.keyThumbprint ?? null,
        externalId: device.externalId ?? null,
        attributes: JSON.stringify(device.attributes ?? {}),
        createdAt: device.createdAt.getTime(),
      }),
    );
    if (!row) throw new Error('INSERT … RETURNING gave no row');
    return toDevice(row);
  }

  async getDevice(id: string): Promise<DeviceRecord | null> {
    const remembering = await this.#lookSoon();
    if (remembering) {
      const known = this.#devices.get(id);
      if (known !== undefined) return known;
    }
    const row = guard(() => this.#sql.getDevice.get(id));
    if (!row) return null;
    const device = frozen(toDevice(row));
    if (remembering) this.#devices.set(id, device);
    return device;
  }

  /** `#syncDevices` in this loop turn's check phase, shared by every caller until it runs. */
  #lookSoon(): Promise<boolean> {
    if (this.#walIndex === undefined) return Promise.resolve(false);
    this.#nextLook ??= new Promise((resolve, reject) => {
      setImmediate(() => {
        this.#nextLook = undefined;
        try {
          resolve(this.#syncDevices());
        } catch (error) {
          reject(error);
        }
      });
    });
    return this.#nextLook;
  }

  /**
   * Brings `#devices` up to date with every commit so far; false when this store keeps no
   * device copies (or could not tell what changed, having dropped them all).
   */
  #syncDevices(): boolean {
    const walIndex = this.#walIndex;
    if (walIndex === undefined || this.#closed) return false;
    if (!walIndex.changed()) return true;
    try {
      const changes = this.#sql.deviceChangesSince.all(this.#deviceChangeSeq);
      const oldest = this.#sql.oldestDeviceChange.get() ?? null;
      // Rows after ours were purged (the triggers keep at least the newest, so an empty log
      // after we saw rows was emptied by hand): we cannot know what we missed.
      const missed =
        oldest === null ? this.#deviceChangeSeq > 0 : oldest > this.#deviceChangeSeq + 1;
      if (missed) {
        this.#devices.clear();
      } else {
        for (const change of changes) this.#devices.delete(change.device_id);
      }
      const last = changes.at(-1);
      if (last !== undefined) this.#deviceChangeSeq = last.seq;
      return true;
    } catch (error) {
      this.#devices.clear();
      walIndex.forget();
      translate(error);
    }
  }

  async findDeviceByExternalId(profile: string, externalId: string): Promise<DeviceRecord | null> {
    const row = guard(() => this.#sql.findByExternalId.get(profile, externalId));
    return row ? toDevice(row) : null;
  }

  async setDeviceStatus(id: string, status: DeviceStatus, at: Date): Promise<DeviceRecord | null> {
    const row = guard(() => this.#sql.setStatus.get({ id, status, at: at.getTime() }));
    this.#devices.delete(id);
    return row ? toDevice(row) : null;
  }

  /** Moves `lastSeenAt` forward only, so out-of-order concurrent requests never rewind it. */
  async touchDevice(id: string, at: Date): Promise<void> {
    const ms = at.getTime();
    guard(() => this.#touch.run(ms, id, ms));
  }

  async listDevices(query: ListDevicesQuery = {}): Promise<Page<DeviceRecord>> {
    const limit = pageSize(query.limit);
    const where: string[] = [];
    const params: Params = { limit: limit + 1 };
    if (query.profile !== undefined) {
      where.push('profile = @profile');
      params.profile = query.profile;
    }
    if (query.status !== undefined) {
      where.push('status = @status');
      params.status = query.status;
    }
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      where.push('(created_at, id) > (@afterCreatedAt, @afterId)');
      params.afterCreatedAt = after.createdAt;
      params.afterId = after.id;
    }
    const sql =
      'SELECT * FROM devices' +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY created_at, id LIMIT @limit';
    const rows = guard(() => this.#statement(sql).all(params)) as DeviceRow[];
    const page: Page<DeviceRecord> = { items: rows.slice(0, limit).map(toDevice) };
    const last = rows[limit - 1];
    if (rows.length > limit && last) page.nextCursor = encodeCursor(last);
    return page;
  }

  async countDevices(query: { profile?: string; status?: DeviceStatus } = {}): Promise<number> {
    const where: string[] = [];
    const params: Params = {};
    if (query.profile !== undefined) {
      where.push('profile = @profile');
      params.profile = query.profile;
    }
    if (query.status !== undefined) {
      where.push('status = @status');
      params.status = query.status;
    }
    const sql =
      'SELECT COUNT(*) AS n FROM devices' +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '');
    const row = guard(() => this.#statement(sql).get(params)) as { n: number } | undefined;
    return row?.n ?? 0;
  }

  // ---- signing keys -------------------------------------------------------------------

  async listSigningKeys(use: SigningKeyRecord['use']): Promise<SigningKeyRecord[]> {
    return guard(() => this.#sql.listKeys.all(use)).map(toSigningKey);
  }

  async rotateSigningKey(key: SigningKeyRecord, at: Date): Promise<void> {
    guard(() =>
      this.#db
        .transaction(() => {
          this.#sql.retireCurrentKey.run(at.getTime(), key.use);
          this.#sql.insertKey.run({
            kid: key.kid,
            use: key.use,
            alg: key.alg,
            privateJwk: JSON.stringify(key.privateJwk),
            publicJwk: JSON.stringify(key.publicJwk),
            createdAt: key.createdAt.getTime(),
          });
        })
        .immediate(),
    );
  }

  async deleteRetiredSigningKeys(use: SigningKeyRecord['use'], before: Date): Promise<number> {
    return guard(() => this.#sql.deleteRetiredKeys.run(use, before.getTime())).changes;
  }

  // ---- short-lived shared state -------------------------------------------------------

  async markOnce(key: string, expiresAt: Date): Promise<boolean> {
    const now = this.#clock().getTime();
    const recorded = guard(() => this.#fast.markOnce.get(key, expiresAt.getTime(), now));
    this.#maybePurge(now);
    return recorded !== undefined;
  }

  async incrementCounter(key: string, windowStart: Date, expiresAt: Date): Promise<number> {
    const count = guard(() =>
      this.#fast.incrementCounter.get(key, windowStart.getTime(), expiresAt.getTime()),
    );
    this.#maybePurge(this.#clock().getTime());
    if (count === undefined) throw new Error('UPSERT … RETURNING gave no row');
    return count;
  }

  /**
   * Deletes every marker and counter expired at `now` (default: the store's clock). Also done
   * a batch at a time as markers and counters are written; exposed for maintenance and tests.
   * Returns how many rows were deleted.
   */
  async purgeExpired(now: Date = this.#clock()): Promise<number> {
    let total = 0;
    for (;;) {
      const n = this.#purgeBatch(now.getTime());
      total += n;
      if (n === 0) return total;
    }
  }

  #maybePurge(now: number): void {
    if (++this.#writesSincePurge < PURGE_EVERY) return;
    this.#writesSincePurge = 0;
    this.#purgeBatch(now);
  }

  #purgeBatch(now: number): number {
    return guard(
      () =>
        this.#sql.purgeMarkers.run(now, PURGE_BATCH).changes +
        this.#sql.purgeCounters.run(now, PURGE_BATCH).changes,
    );
  }

  // ---- invites ------------------------------------------------------------------------

  async createInvite(invite: InviteRecord): Promise<void> {
    guard(() =>
      this.#sql.insertInvite.run({
        codeHash: invite.codeHash,
        profile: invite.profile,
        usesTotal: invite.usesTotal,
        usesLeft: invite.usesLeft,
        expiresAt: invite.expiresAt?.getTime() ?? null,
        createdAt: invite.createdAt.getTime(),
      }),
    );
  }

  async consumeInvite(codeHash: string, profile: string, now: Date): Promise<ConsumeInviteResult> {
    const ms = now.getTime();
    const taken = guard(() => this.#sql.consumeInvite.get({ codeHash, profile, now: ms }));
    if (taken) return 'consumed';
    // Nothing was taken; this read only says why (uses only ever go down).
    const state = guard(() => this.#sql.inviteState.get(codeHash, profile));
    if (!state) return 'unknown';
    if (state.expires_at !== null && state.expires_at <= ms) return 'expired';
    return 'exhausted';
  }

  async listInvites(profile?: string): Promise<InviteRecord[]> {
    const rows = guard(() =>
      profile === undefined
        ? this.#sql.listAllInvites.all()
        : this.#sql.listProfileInvites.all(profile),
    );
    return rows.map(toInvite);
  }

  // ---- lifecycle ----------------------------------------------------------------------

  async ping(): Promise<void> {
    if (this.#closed) throw new Error('the SQLite store is closed');
    guard(() => this.#sql.ping.get());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#walIndex?.close();
    this.#devices.clear();
    if (this.#touchDb !== this.#db) this.#touchDb.close();
    this.#db.close();
  }

  #statement(sql: string): Database.Statement<Params, unknown> {
    let statement = this.#dynamic.get(sql);
    if (!statement) {
      statement = this.#db.prepare<Params, unknown>(sql);
      this.#dynamic.set(sql, statement);
    }
    return statement;
  }
}
