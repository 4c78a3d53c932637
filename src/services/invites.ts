/**
 * Invite codes, shared by `keyvend invites` and the admin API: create them for a profile with
 * a number of uses and an optional expiry, and list them. A code is 128 random bits written in
 * Crockford base32 (26 characters, grouped for reading: `7Q2MZ-…`); the store keeps only its
 * SHA-256, so a code is shown once, when it is made, and a leaked database holds no usable
 * code. The `invite` validator takes one use atomically in the store when a device registers.
 *
 * Input is forgiving the way Crockford base32 intends: case, hyphens and spaces are ignored,
 * and O / I / L read as 0 / 1 / 1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { KeyvendError } from '../errors.js';
import { DuplicateError, type InviteRecord, type Store } from '../stores/store.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LENGTH = 26;
const CODE_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Most uses one code may carry. */
export const MAX_INVITE_USES = 1_000_000;
/** Most codes one call may create. */
export const MAX_INVITE_COUNT = 1000;
/** Longest lifetime, in seconds (ten years). */
export const MAX_INVITE_SECONDS = 315_360_000;

export interface CreateInvitesInput {
  store: Store;
  profile: string;
  /** Registrations each code allows (1–1,000,000). */
  uses: number;
  /** Lifetime in seconds (60 s – 10 years); no expiry when absent. */
  expiresInSeconds?: number;
  /** How many codes (1–1000, default 1). */
  count?: number;
  now?: Date;
}

/**
 * Creates invite codes and returns them (the only time they can be seen).
 *
 * @throws KeyvendError `KEYVEND_BAD_REQUEST` when a number is out of range.
 * @example
 * ```ts
 * const [code] = await createInvites({ store, profile: 'beta', uses: 1, expiresInSeconds: 7 * 86400 });
 * ```
 */
export async function createInvites(input: CreateInvitesInput): Promise<string[]> {
  const count = input.count ?? 1;
  checkInteger('uses', input.uses, 1, MAX_INVITE_USES);
  checkInteger('count', count, 1, MAX_INVITE_COUNT);
  if (input.expiresInSeconds !== undefined) {
    checkInteger('expiresInSeconds', input.expiresInSeconds, 60, MAX_INVITE_SECONDS);
  }
  if (typeof input.profile !== 'string' || !/^[a-z][a-z0-9-]{0,31}$/.test(input.profile)) {
    throw new KeyvendError('KEYVEND_BAD_REQUEST', 'profile must be a profile name.');
  }
  const now = input.now ?? new Date();
  const expiresAt =
    input.expiresInSeconds === undefined
      ? null
      : new Date(now.getTime() + input.expiresInSeconds * 1000);
  const codes: string[] = [];
  while (codes.length < count) {
    const code = newInviteCode();
    try {
      await input.store.createInvite({
        codeHash: hashNormalized(code),
        profile: input.profile,
        usesTotal: input.uses,
        usesLeft: input.uses,
        expiresAt,
        createdAt: now,
      });
    } catch (err) {
      if (err instanceof DuplicateError) continue; // 2^-128: draw again
      throw err;
    }
    codes.push(formatInviteCode(code));
  }
  return codes;
}

/** Invites of one profile (or all), newest first. Holds hashes only, never codes. */
export function listInvites(store: Store, profile?: string): Promise<InviteRecord[]> {
  return store.listInvites(profile);
}

/**
 * The canonical form of a code as typed (uppercase, no separators, O→0, I/L→1), or null
 * when it cannot be a keyvend invite code.
 */
export function normalizeInviteCode(code: string): string | null {
  if (typeof code !== 'string' || code.length > 64) return null;
  const canonical = code
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  return CODE_PATTERN.test(canonical) ? canonical : null;
}

/** The SHA-256 (hex) under which a code is stored, or null when the code is malformed. */
export function hashInviteCode(code: string): string | null {
  const canonical = normalizeInviteCode(code);
  return canonical === null ? null : hashNormalized(canonical);
}

function hashNormalized(canonical: string): string {
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** 16 random bytes as 26 Crockford base32 characters. */
function newInviteCode(): string {
  let value = BigInt(`0x${randomBytes(16).toString('hex')}`);
  let out = '';
  for (let i = 0; i < CODE_LENGTH; i++) {
    out = ALPHABET[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return out;
}

/** Groups of five for reading aloud: `XXXXX-XXXXX-XXXXX-XXXXX-XXXXXX`. */
function formatInviteCode(canonical: string): string {
  return [0, 5, 10, 15].map((i) => canonical.slice(i, i + 5)).join('-') + `-${canonical.slice(20)}`;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new KeyvendError(
      'KEYVEND_BAD_REQUEST',
      `${name} must be a whole number from ${min} to ${max}.`,
    );
  }
}
