import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createInvites,
  hashInviteCode,
  listInvites,
  normalizeInviteCode,
} from '../../src/services/invites.js';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.js';
import type { Store } from '../../src/stores/store.js';
import { runValidators } from '../../src/validators/compose.js';
import { InviteValidator } from '../../src/validators/invite.js';
import type { ValidationResult } from '../../src/validators/validator.js';
import { contextsFrom, makeContext, openTestStore } from './fixtures.js';

const now = new Date('2026-04-01T00:00:00Z');
let store: Store;
beforeAll(async () => {
  store = await openTestStore(() => now);
});
afterAll(() => store.close());

const invite = new InviteValidator({ type: 'invite' });
const codeOf = (r: ValidationResult) => (r.outcome === 'deny' ? r.error.code : r.outcome);
const use = (answer: unknown, at = now, profile = 'beta', s = store) =>
  invite.validate(makeContext(s, { now: at, answer, profile }));

describe('createInvites', () => {
  it('makes distinct 128-bit codes and stores only their SHA-256', async () => {
    const codes = await createInvites({ store, profile: 'beta', uses: 2, count: 5, now });
    expect(new Set(codes).size).toBe(5);
    for (const code of codes) {
      expect(code).toMatch(
        /^[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}-[0-9A-HJKMNP-TV-Z]{6}$/,
      );
    }
    const stored = await listInvites(store, 'beta');
    const hashes = codes.map((c) => hashInviteCode(c));
    expect(stored.filter((i) => hashes.includes(i.codeHash))).toHaveLength(5);
    expect(JSON.stringify(stored)).not.toContain(codes[0]!.replace(/-/g, ''));
    expect(stored[0]).toMatchObject({ usesTotal: 2, usesLeft: 2 });
  });

  it.each([
    [{ uses: 0 }, /uses/],
    [{ uses: 1.5 }, /uses/],
    [{ uses: 1, count: 1001 }, /count/],
    [{ uses: 1, expiresInSeconds: 10 }, /expiresInSeconds/],
    [{ uses: 1, profile: 'Not A Profile' }, /profile/],
  ])('refuses %j', async (input, message) => {
    await expect(createInvites({ store, profile: 'beta', ...input })).rejects.toMatchObject({
      code: 'KEYVEND_BAD_REQUEST',
      message: expect.stringMatching(message),
    });
  });

  it('reads codes forgivingly: case, separators, O for 0 and I/L for 1', () => {
    const canonical = '0123456789ABCDEFGHJKMNPQRS';
    expect(normalizeInviteCode('o123 4567-89ab-cdef-ghjk-mnpqrs')).toBe(canonical);
    expect(normalizeInviteCode('0I23456789ABCDEFGHJKMNPQRS')).toBe(`01${canonical.slice(2)}`);
    expect(normalizeInviteCode('short')).toBeNull();
    expect(normalizeInviteCode('U'.repeat(26))).toBeNull();
  });
});

describe('invite validator', () => {
  it('asks for an invite code when there is no answer', async () => {
    expect(await use(undefined)).toEqual({
      outcome: 'challenge',
      challenges: [{ type: 'invite', id: 'invite' }],
    });
  });

  it('passes while uses remain, then refuses the code as used up', async () => {
    const [code] = await createInvites({ store, profile: 'beta', uses: 2, now });
    expect(codeOf(await use(code))).toBe('pass');
    expect(codeOf(await use(code!.toLowerCase()))).toBe('pass');
    expect(codeOf(await use(code))).toBe('KEYVEND_INVITE_EXHAUSTED');
  });

  it('refuses an expired code', async () => {
    const [code] = await createInvites({
      store,
      profile: 'beta',
      uses: 5,
      expiresInSeconds: 3600,
      now,
    });
    const later = new Date(now.getTime() + 3600_000);
    expect(codeOf(await use(code, later))).toBe('KEYVEND_INVITE_EXPIRED');
  });

  it('refuses a code of another profile, an unknown code and malformed answers', async () => {
    const [code] = await createInvites({ store, profile: 'beta', uses: 5, now });
    expect(codeOf(await use(code, now, 'other'))).toBe('KEYVEND_INVITE_INVALID');
    expect(codeOf(await use('ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZZ'))).toBe('KEYVEND_INVITE_INVALID');
    for (const bad of [42, '', 'x'.repeat(100), { code }]) {
      expect(codeOf(await use(bad))).toBe('KEYVEND_INVITE_INVALID');
    }
  });

  it('lets exactly one of 50 concurrent registrations through with a one-use code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyvend-invite-'));
    const file = join(dir, 'kv.db');
    // Two stores on one file: two keyvend instances sharing the database.
    const a = await SqliteStore.open(file);
    const b = await SqliteStore.open(file);
    try {
      const [code] = await createInvites({ store: a, profile: 'beta', uses: 1, now });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          runValidators(
            [invite],
            contextsFrom(
              makeContext(i % 2 ? a : b, { now, profile: 'beta', answers: { invite: code } }),
            ),
          ),
        ),
      );
      const outcomes = results.map(codeOf);
      expect(outcomes.filter((o) => o === 'pass')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'KEYVEND_INVITE_EXHAUSTED')).toHaveLength(49);
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
