/**
 * Identifier and secret generation in AWS's formats (`reference/sts-iam.md` §2): `AKIA`/`ASIA`
 * access key ids, `AIDA` user ids, `AROA` role ids, 40-character secrets, and opaque base64
 * session tokens whose length varies from one issuance to the next, so no client can come to
 * rely on a fixed size.
 */
import { randomBytes, randomInt } from 'node:crypto';

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function randomFrom(alphabet: string, length: number): string {
  let out = '';
  for (const byte of randomBytes(length)) out += alphabet[byte % alphabet.length];
  return out;
}

/** `prefix` + `length` characters of `[A-Z2-7]` (e.g. `AKIA` + 16). */
export function awsId(prefix: 'AKIA' | 'ASIA' | 'AIDA' | 'AROA' | 'ANPA', length: number): string {
  return prefix + randomFrom(ID_ALPHABET, length);
}

/** A 40-character secret access key. */
export function secretAccessKey(): string {
  return randomFrom(SECRET_ALPHABET, 40);
}

/** An opaque session token: base64 of 240–720 random bytes (320–960 characters). */
export function sessionToken(): string {
  return randomBytes(randomInt(240, 721)).toString('base64');
}
