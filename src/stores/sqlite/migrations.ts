/**
 * The SQLite schema, as an ordered list of numbered migrations. `SqliteStore.open` applies
 * the ones a database lacks, each in its own transaction, and records them in
 * `schema_migrations`; a database already at the newest version is left alone, and one
 * written by a newer keyvend (a version this list does not know) refuses to open.
 *
 * Rules for adding a migration: append, never edit or reorder a released one; one concern
 * per migration; times are integer milliseconds since the epoch; JSON columns are TEXT;
 * tables are STRICT. Foreign keys are switched off while migrations run (SQLite's own
 * procedure for rebuilding a table) and checked with `PRAGMA foreign_key_check` before the
 * commit, so a migration may rebuild a table without cascading deletes.
 *
 * Planned next (not built yet):
 *
 * - 3 `users`: `users(id TEXT PRIMARY KEY  -- 'u-…', username TEXT UNIQUE COLLATE NOCASE,
 *   password_hash TEXT, external_id TEXT UNIQUE, status, attributes, created_at,
 *   last_seen_at, disabled_at, version)`. `devices.user_id` already exists (nullable, indexed);
 *   the migration rebuilds `devices` (create `devices_new` with `user_id TEXT REFERENCES
 *   users(id) ON DELETE SET NULL`, copy, drop, rename, recreate indexes) so the link is a real
 *   foreign key. Linking a device is then one `UPDATE devices SET user_id = ? WHERE id = ?`.
 * - 4 `issuance_audit`: `issuance_audit(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,
 *   device_id TEXT NOT NULL, user_id TEXT, profile TEXT NOT NULL, access_key_id TEXT NOT NULL,
 *   expires_at INTEGER NOT NULL, client_address TEXT)`, append-only, with indexes on
 *   `access_key_id` (CloudTrail key id → device) and `(device_id, at)` (a device's history)
 *   and `(profile, at)` (issuance counts). No foreign key to `devices`: the audit must
 *   outlive a deleted device.
 */
import type Database from 'better-sqlite3';
import { ConfigError } from '../../errors.js';

export interface Migration {
  /** 1, 2, 3, … with no gaps. */
  readonly version: number;
  /** Short kebab-case name, recorded next to the version. */
  readonly name: string;
  /** SQL run inside the migration's transaction. */
  readonly up: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'devices-keys-markers-counters-invites',
    up: `
      CREATE TABLE devices (
        id             TEXT PRIMARY KEY,
        profile        TEXT NOT NULL,
        status         TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
        public_key     TEXT,                       -- public JWK, JSON
        key_thumbprint TEXT,                       -- RFC 7638, base64url
        external_id    TEXT,                       -- unique per profile
        user_id        TEXT,                       -- becomes a foreign key with the users table
        attributes     TEXT NOT NULL DEFAULT '{}', -- JSON object of strings
        created_at     INTEGER NOT NULL,
        last_seen_at   INTEGER,
        disabled_at    INTEGER,
        version        INTEGER NOT NULL DEFAULT 1
      ) STRICT;
      CREATE UNIQUE INDEX devices_profile_external_id ON devices (profile, external_id)
        WHERE external_id IS NOT NULL;
      CREATE INDEX devices_created ON devices (created_at, id);
      CREATE INDEX devices_profile_created ON devices (profile, created_at, id);
      CREATE INDEX devices_user ON devices (user_id) WHERE user_id IS NOT NULL;

      CREATE TABLE signing_keys (
        kid         TEXT PRIMARY KEY,
        use         TEXT NOT NULL CHECK (use IN ('registration', 'oidc')),
        alg         TEXT NOT NULL,
        private_jwk TEXT NOT NULL,
        public_jwk  TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        retired_at  INTEGER
      ) STRICT;
      -- at most one current key per use, whatever the code above does
      CREATE UNIQUE INDEX signing_keys_current ON signing_keys (use) WHERE retired_at IS NULL;
      CREATE INDEX signing_keys_use_created ON signing_keys (use, created_at);

      CREATE TABLE markers (
        key        TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX markers_expires ON markers (expires_at);

      CREATE TABLE counters (
        key          TEXT PRIMARY KEY,
        window_start INTEGER NOT NULL,
        count        INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX counters_expires ON counters (expires_at);

      CREATE TABLE invites (
        code_hash  TEXT PRIMARY KEY,
        profile    TEXT NOT NULL,
        uses_total INTEGER NOT NULL CHECK (uses_total >= 0),
        uses_left  INTEGER NOT NULL CHECK (uses_left >= 0),
        expires_at INTEGER,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX invites_profile_created ON invites (profile, created_at);
    `,
  },
  {
    version: 2,
    name: 'device-changes',
    // Every change to a device row, by any writer (keyvend, its CLI, a sqlite3 shell), is
    // logged here, so a process holding devices in memory learns which ones to drop. The
    // newest 10,000 are kept; a reader that fell further behind drops everything.
    up: `
      CREATE TABLE device_changes (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id TEXT NOT NULL
      ) STRICT;
      CREATE TRIGGER devices_updated AFTER UPDATE ON devices BEGIN
        INSERT INTO device_changes (device_id) VALUES (NEW.id);
        DELETE FROM device_changes
          WHERE seq <= (SELECT MAX(seq) FROM device_changes) - 10000;
      END;
      CREATE TRIGGER devices_deleted AFTER DELETE ON devices BEGIN
        INSERT INTO device_changes (device_id) VALUES (OLD.id);
        DELETE FROM device_changes
          WHERE seq <= (SELECT MAX(seq) FROM device_changes) - 10000;
      END;
    `,
  },
];

/** The schema version this keyvend writes: the last migration's. */
export const LATEST_SCHEMA_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;

/**
 * Brings `db` up to the last of `migrations`: each missing one runs in its own `BEGIN
 * IMMEDIATE` transaction (so two processes opening one file at once do not both apply it)
 * and is recorded in `schema_migrations`. Returns the versions applied by this call; empty
 * when the database was already current. Throws `ConfigError` naming `file` when the
 * database is at a version this list does not know (written by a newer keyvend).
 */
export function applyMigrations(
  db: Database.Database,
  file: string,
  migrations: readonly Migration[] = MIGRATIONS,
  now: () => Date = () => new Date(),
): number[] {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name}: expected version ${i + 1}`);
  });
  const latest = migrations.at(-1)?.version ?? 0;
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const currentVersion = db
    .prepare<[], number>('SELECT COALESCE(MAX(version), 0) FROM schema_migrations')
    .pluck();
  const found = currentVersion.get() ?? 0;
  if (found > latest) {
    throw new ConfigError(file, [
      `the database is at schema version ${found}, newer than this keyvend understands ` +
        `(${latest}); it was written by a newer keyvend: upgrade keyvend, or restore a backup`,
    ]);
  }
  if (found === latest) return [];

  const record = db.prepare<[number, string, number]>(
    'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
  );
  const applied: number[] = [];
  // Foreign keys can only be switched outside a transaction; see the file comment.
  db.pragma('foreign_keys = OFF');
  try {
    for (const migration of migrations) {
      db.transaction(() => {
        // Re-read under the write lock: another process may have applied it meanwhile.
        if ((currentVersion.get() ?? 0) >= migration.version) return;
        db.exec(migration.up);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0) {
          throw new Error(`migration ${migration.version} ${migration.name} breaks foreign keys`);
        }
        record.run(migration.version, migration.name, now().getTime());
        applied.push(migration.version);
      }).immediate();
    }
  } finally {
    db.pragma('foreign_keys = ON');
  }
  return applied;
}
