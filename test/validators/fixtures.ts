/**
 * Shared pieces for the validator unit tests: a real SQLite store in memory, a real ES256 challenge signer with an
 * injectable clock, and a builder for validation contexts.
 */
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.js';
import type { Store } from '../../src/stores/store.js';
import type { ChallengeSigner } from '../../src/validators/challenge-signer.js';
import { answerFor } from '../../src/validators/compose.js';
import type { ValidationContext, Validator } from '../../src/validators/validator.js';

/** A real SQLite store in memory; `clock` drives replay-marker expiry. */
export function openTestStore(clock?: () => Date): Promise<SqliteStore> {
  return SqliteStore.open(':memory:', clock ? { clock } : {});
}

/** A real ES256 challenge signer; `clock` decides "now" for both signing and verifying. */
export async function createTestSigner(
  clock: () => Date = () => new Date(),
): Promise<ChallengeSigner & { signed: number }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const signer = {
    signed: 0,
    async sign(payload: Record<string, unknown>, ttlSeconds: number): Promise<string> {
      signer.signed += 1;
      const now = Math.floor(clock().getTime() / 1000);
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', typ: 'keyvend-challenge+jwt' })
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(privateKey);
    },
    async verify(token: string): Promise<Record<string, unknown>> {
      const { payload } = await jwtVerify(token, publicKey, {
        algorithms: ['ES256'],
        currentDate: clock(),
      });
      return payload as Record<string, unknown>;
    },
  };
  return signer;
}

/** A validation context with sensible defaults; `answers` fills `body.answers`. */
export function makeContext(
  store: Store,
  overrides: Partial<ValidationContext> & { answers?: Record<string, unknown> } = {},
): ValidationContext {
  const { answers, ...rest } = overrides;
  const body = rest.body ?? (answers ? { profile: 'mobile', answers } : { profile: 'mobile' });
  return {
    profile: 'mobile',
    answer: undefined,
    body,
    rawBody: JSON.stringify(body),
    headers: {},
    clientIp: '203.0.113.7',
    now: new Date(),
    store,
    ...rest,
  };
}

/** `ctxFor` for runValidators: the base context with each validator's own answer. */
export function contextsFrom(base: ValidationContext): (v: Validator) => ValidationContext {
  return (v) => ({ ...base, answer: answerFor(base.body, v.id) });
}
