/**
 * Opaque random identifiers for devices and users. An id carries 120 random bits from the
 * platform CSPRNG, written as 24 lowercase RFC 4648 base32 characters behind a type prefix
 * (`d-`, `u-`). The alphabet is a subset of the characters STS allows in principal and
 * session names, so an id can be used in one as-is; nothing in an id is derived from input.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const RANDOM_CHARS = 24; // 24 × 5 bits = 120 bits = 15 bytes exactly
const DEVICE_ID = /^d-[a-z2-7]{24}$/;
const USER_ID = /^u-[a-z2-7]{24}$/;

function randomBase32(): string {
  const bytes = randomBytes((RANDOM_CHARS * 5) / 8);
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/** A new device id: `d-` followed by 24 base32 characters (120 random bits). */
export function newDeviceId(): string {
  return `d-${randomBase32()}`;
}

/** A new user id: `u-` followed by 24 base32 characters (120 random bits). */
export function newUserId(): string {
  return `u-${randomBase32()}`;
}

/** Whether `value` has the shape of a device id (says nothing about whether it exists). */
export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID.test(value);
}

/** Whether `value` has the shape of a user id (says nothing about whether it exists). */
export function isUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID.test(value);
}
