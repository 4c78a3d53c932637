/**
 * SqliteStore: the shared Store contract against a real file and against `:memory:`, then
 * what only SQLite has — migrations, WAL, durability across reopen, lock waits between
 * connections and the translation of lock timeouts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, KeyvendError } from '../../src/errors.js';
import { newDeviceId } from '../../src/stores/ids.js';
import {
  applyMigrations,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  type Migration,
} from '../../src/stores/sqlite/migrations.js';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.js';
import { WalIndexHeader } from '../../src/stores/sqlite/wal-index.js';
import { runStoreContract } from './store-contract.js';

let dir: string;
let n = 0;
const freshPath = () => join(dir, `db-${++n}`, 'keyvend.db');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keyvend-sqlite-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

runStoreContract('sqlite file', ({ clock }) => SqliteStore.open(freshPath(), { clock }));
runStoreContract('sqlite :memory:', ({ clock }) => SqliteStore.open(':memory:', { clock }));

const T0 = Date.UTC(2030, 0, 1);

/** A worker thread holding the write lock of `file` until released (or `holdMs` passes). */
function holdWriteLock(file: string, holdMs: number) {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const Database = require(workerData.module);
    const db = new Database(workerData.file);
    const flags = new Int32Array(workerData.flags);
    db.exec('BEGIN IMMEDIATE');
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    Atomics.wait(flags, 1, 0, workerData.holdMs);
    db.exec('COMMIT');
    db.close();
    parentPort.postMessage('released');
  `;
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(code, {
    eval: true,
    workerData: { module, file, flags: flags.buffer, holdMs },
  });
  const released = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (Atomics.wait(flags, 0, 0, 10_000) === 'timed-out') throw new Error('worker never locked');
  return {
    release: async () => {
      Atomics.store(flags, 1, 1);
      Atomics.notify(flags, 1);
      await released;
      await worker.terminate();
    },
  };
}

describe('SqliteStore on a file', () => {
  it('creates missing parent directories and runs in WAL mode', async () => {
    const path = join(dir, 'deep', 'er', 'keyvend.db');
    const store = await SqliteStore.open(path);
    await store.ping();
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    await store.close();
  });

  it('keeps devices, keys, markers and invites across close and reopen', async () => {
    const path = freshPath();
    const clock = () => new Date(T0);
    const id = newDeviceId();
    const first = await SqliteStore.open(path, { clock });
    await first.createDevice({ id, profile: 'mobile', createdAt: new Date(T0) });
    await first.touchDevice(id, new Date(T0 + 1));
    await first.markOnce('seen', new Date(T0 + 60_000));
    await first.createInvite({
      codeHash: 'h',
      profile: 'mobile',
      usesTotal: 2,
      usesLeft: 2,
      expiresAt: null,
      createdAt: new Date(T0),
    });
    await first.consumeInvite('h', 'mobile', new Date(T0));
    await first.close();

    const second = await SqliteStore.open(path, { clock });
    expect((await second.getDevice(id))?.lastSeenAt).toEqual(new Date(T0 + 1));
    expect(await second.markOnce('seen', new Date(T0 + 60_000))).toBe(false);
    expect((await second.listInvites())[0]?.usesLeft).toBe(1);
    await second.close();
  });

  it('applies migrations once: reopening changes nothing', async () => {
    const path = freshPath();
    await (await SqliteStore.open(path)).close();
    await (await SqliteStore.open(path)).close();
    const raw = new Database(path);
    const rows = raw.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    expect(applyMigrations(raw, path)).toEqual([]);
    raw.close();
  });

  it('refuses to open a database written by a newer keyvend, naming the file', async () => {
    const path = freshPath();
    await (await SqliteStore.open(path)).close();
    const raw = new Database(path);
    raw
      .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
      .run(LATEST_SCHEMA_VERSION + 1, 'from-the-future', T0);
    raw.close();
    const error = await SqliteStore.open(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(path);
    expect((error as ConfigError).message).toMatch(/newer than this keyvend/);
  });

  it('refuses a file that is not a SQLite database with a ConfigError', async () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, 'this is not a database, just text padded out '.repeat(50));
    const error = await SqliteStore.open(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/cannot open the SQLite database/);
  });

  it('sees lastSeenAt written through the touch connection from the main one', async () => {
    const path = freshPath();
    const a = await SqliteStore.open(path);
    const b = await SqliteStore.open(path);
    const id = newDeviceId();
    await a.createDevice({ id, profile: 'mobile', createdAt: new Date(T0) });
    await b.touchDevice(id, new Date(T0 + 5));
    expect((await a.getDevice(id))?.lastSeenAt).toEqual(new Date(T0 + 5));
    await a.close();
    await b.close();
  });

  it('waits for another connection’s write lock instead of failing', async () => {
    const path = freshPath();
    const store = await SqliteStore.open(path, { clock: () => new Date(T0) });
    const lock = holdWriteLock(path, 200);
    const started = performance.now();
    expect(await store.markOnce('k', new Date(T0 + 1000))).toBe(true);
    expect(performance.now() - started).toBeGreaterThan(100);
    await lock.release();
    await store.close();
  });

  it('answers KEYVEND_STORE_UNAVAILABLE (503) when the lock wait runs out', async () => {
    const path = freshPath();
    const store = await SqliteStore.open(path, { busyTimeoutMs: 0 });
    const lock = holdWriteLock(path, 10_000);
    const error = await store.markOnce('k', new Date(Date.now() + 1000)).catch((e: unknown) => e);
    await lock.release();
    expect(error).toBeInstanceOf(KeyvendError);
    expect((error as KeyvendError).code).toBe('KEYVEND_STORE_UNAVAILABLE');
    expect((error as KeyvendError).statusCode).toBe(503);
    expect((error as KeyvendError).cause).toBeInstanceOf(Database.SqliteError);
    await store.close();
  });

  it('purges expired markers and counters, keeping live ones', async () => {
    let now = T0;
    const store = await SqliteStore.open(freshPath(), { clock: () => new Date(now) });
    await store.markOnce('old', new Date(T0 + 10));
    await store.markOnce('live', new Date(T0 + 1000));
    await store.incrementCounter('c-old', new Date(T0), new Date(T0 + 10));
    await store.incrementCounter('c-live', new Date(T0), new Date(T0 + 1000));
    now = T0 + 500;
    expect(await store.purgeExpired()).toBe(2);
    expect(await store.markOnce('live', new Date(T0 + 2000))).toBe(false);
    expect(await store.incrementCounter('c-live', new Date(T0), new Date(T0 + 1000))).toBe(2);
    await store.close();
  });
});

describe('SqliteStore device reads kept in memory', () => {
  const device = async (store: SqliteStore) => {
    const id = newDeviceId();
    await store.createDevice({ id, profile: 'mobile', createdAt: new Date(T0) });
    return id;
  };

  it('sees every status change another connection commits, on the very next read', async () => {
    const path = freshPath();
    const reader = await SqliteStore.open(path);
    const writer = await SqliteStore.open(path);
    const id = await device(writer);
    for (let i = 0; i < 200; i++) {
      const status = i % 2 === 0 ? 'disabled' : 'active';
      expect((await reader.getDevice(id))?.status).toBe(i % 2 === 0 ? 'active' : 'disabled');
      await writer.setDeviceStatus(id, status, new Date(T0 + i));
      expect((await reader.getDevice(id))?.status).toBe(status);
    }
    await reader.close();
    await writer.close();
  });

  it('sees a change written by another process with plain SQL', async () => {
    const path = freshPath();
    const store = await SqliteStore.open(path);
    const id = await device(store);
    expect((await store.getDevice(id))?.status).toBe('active');
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    const sql = `UPDATE devices SET status = 'disabled' WHERE id = '${id}'`;
    const child = spawnSync(process.execPath, [
      '-e',
      `const D = require(${JSON.stringify(module)}); new D(${JSON.stringify(path)}).exec(${JSON.stringify(sql)});`,
    ]);
    expect(child.status, child.stderr.toString()).toBe(0);
    expect((await store.getDevice(id))?.status).toBe('disabled');
    await store.close();
  });

  it('keeps unchanged devices while others change, and drops all when it fell behind the log', async () => {
    const path = freshPath();
    const reader = await SqliteStore.open(path);
    const writer = await SqliteStore.open(path);
    const [a, b] = [await device(writer), await device(writer)];
    const first = await reader.getDevice(a);
    await writer.setDeviceStatus(b, 'disabled', new Date(T0));
    // Same object: `a` was not re-read, only `b` was dropped.
    expect(await reader.getDevice(a)).toBe(first);
    expect((await reader.getDevice(b))?.status).toBe('disabled');

    // 10,001 changes to others push `a`'s change out of the log before the reader looks.
    const raw = new Database(path);
    raw.exec(`UPDATE devices SET status = 'disabled' WHERE id = '${a}'`);
    const touch = raw.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?');
    raw.transaction(() => {
      for (let i = 0; i < 10_001; i++) touch.run(T0 + i, b);
    })();
    raw.close();
    expect((await reader.getDevice(a))?.status).toBe('disabled');
    await reader.close();
    await writer.close();
  });

  it('shares one look at the wal-index among the reads begun in one loop turn', async () => {
    const path = freshPath();
    const reader = await SqliteStore.open(path);
    const writer = await SqliteStore.open(path);
    const id = await device(writer);
    await reader.getDevice(id);
    const looks = vi.spyOn(WalIndexHeader.prototype, 'changed');
    const before = reader.getDevice(id);
    // better-sqlite3 commits synchronously: this is done before the next line starts.
    void writer.setDeviceStatus(id, 'disabled', new Date(T0));
    const after = Array.from({ length: 50 }, () => reader.getDevice(id));
    for (const read of [before, ...after]) expect((await read)?.status).toBe('disabled');
    expect(looks).toHaveBeenCalledTimes(1);
    looks.mockRestore();
    await reader.close();
    await writer.close();
  });

  it('drops all when changes it never saw were purged before its first look', async () => {
    const path = freshPath();
    const reader = await SqliteStore.open(path);
    const [a, b] = [await device(reader), await device(reader)];
    expect((await reader.getDevice(a))?.status).toBe('active');
    const raw = new Database(path);
    const touch = raw.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?');
    raw.transaction(() => {
      raw.exec(`UPDATE devices SET status = 'disabled' WHERE id = '${a}'`);
      for (let i = 0; i < 10_001; i++) touch.run(T0 + i, b);
    })();
    raw.close();
    expect((await reader.getDevice(a))?.status).toBe('disabled');
    await reader.close();
  });

  it('hands out frozen records, so one caller cannot change what the next one reads', async () => {
    const store = await SqliteStore.open(freshPath());
    const id = await device(store);
    const record = await store.getDevice(id);
    expect(Object.isFrozen(record)).toBe(true);
    expect(Object.isFrozen(record?.attributes)).toBe(true);
    await store.close();
  });
});

describe('applyMigrations', () => {
  const m1: Migration = { version: 1, name: 'one', up: 'CREATE TABLE one (x INTEGER) STRICT;' };
  const m2: Migration = { version: 2, name: 'two', up: 'CREATE TABLE two (x INTEGER) STRICT;' };

  it('numbers the shipped migrations 1, 2, 3 … without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it('applies only the migrations a database lacks, in order', () => {
    const db = new Database(':memory:');
    expect(applyMigrations(db, 'mem', [m1])).toEqual([1]);
    expect(applyMigrations(db, 'mem', [m1, m2])).toEqual([2]);
    expect(applyMigrations(db, 'mem', [m1, m2])).toEqual([]);
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
    expect(tables).toEqual(['one', 'schema_migrations', 'two']);
    db.close();
  });

  it('rolls a failing migration back entirely and records nothing for it', () => {
    const db = new Database(':memory:');
    const broken: Migration = {
      version: 2,
      name: 'broken',
      up: 'CREATE TABLE half (x INTEGER); INSERT INTO missing VALUES (1);',
    };
    expect(() => applyMigrations(db, 'mem', [m1, broken])).toThrow(/missing/);
    expect(db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get()).toBe(1);
    expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'").pluck().get()).toBe(
      0,
    );
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.close();
  });

  it('refuses a migration list with a gap', () => {
    const db = new Database(':memory:');
    expect(() => applyMigrations(db, 'mem', [m1, { ...m2, version: 3 }])).toThrow(/version 2/);
    db.close();
  });
});
