import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solveProofOfWork } from '../../src/client/proof-of-work.js';
import type { Store } from '../../src/stores/store.js';
import type { ChallengeSigner } from '../../src/validators/challenge-signer.js';
import { ProofOfWorkValidator } from '../../src/validators/proof-of-work.js';
import type { Challenge, ValidationResult } from '../../src/validators/validator.js';
import { createTestSigner, makeContext, openTestStore } from './fixtures.js';

const now = new Date('2026-03-01T12:00:00Z');
const clock = () => now;
let store: Store;
let signer: ChallengeSigner;

beforeAll(async () => {
  store = await openTestStore(clock);
  signer = await createTestSigner(clock);
});
afterAll(() => store.close());

const pow = (difficulty = 10, id?: string) =>
  new ProofOfWorkValidator(
    { type: 'proof-of-work', difficulty, ttlSeconds: 120, ...(id ? { id } : {}) },
    { signer },
  );

async function challengeOf(v: ProofOfWorkValidator, profile = 'mobile'): Promise<Challenge> {
  const result = await v.validate(makeContext(store, { now, profile }));
  if (result.outcome !== 'challenge') throw new Error(`expected challenge, got ${result.outcome}`);
  return result.challenges[0]!;
}

async function solved(v: ProofOfWorkValidator, profile = 'mobile') {
  const c = await challengeOf(v, profile);
  return solveProofOfWork({ challenge: c.challenge as string, difficulty: c.difficulty as number });
}

const codeOf = (r: ValidationResult) => (r.outcome === 'deny' ? r.error.code : r.outcome);

describe('proof-of-work validator', () => {
  it('issues a signed sha256 challenge with its difficulty and expiry', async () => {
    const c = await challengeOf(pow(12, 'work'));
    expect(c).toMatchObject({
      type: 'proof-of-work',
      id: 'work',
      algorithm: 'sha256',
      difficulty: 12,
    });
    expect(typeof c.challenge).toBe('string');
    expect(c.expiresAt).toBe('2026-03-01T12:02:00.000Z');
  });

  it('passes a solved challenge once and refuses it replayed', async () => {
    const v = pow();
    const answer = await solved(v);
    expect(await v.validate(makeContext(store, { now, answer }))).toEqual({ outcome: 'pass' });
    expect(codeOf(await v.validate(makeContext(store, { now, answer })))).toBe(
      'KEYVEND_POW_REPLAYED',
    );
  });

  it('refuses a nonce that does not reach the difficulty', async () => {
    const v = pow(20);
    const c = await challengeOf(v);
    // A nonce good for 4 bits is (almost surely) not good for 20.
    const weak = await solveProofOfWork({ challenge: c.challenge as string, difficulty: 4 });
    const result = await v.validate(makeContext(store, { now, answer: weak }));
    expect(codeOf(result)).toBe('KEYVEND_POW_INVALID');
    expect(result.outcome === 'deny' && result.error.details?.reason).toBe('not-solved');
  });

  it('refuses an answer after the challenge expired', async () => {
    const v = pow();
    const answer = await solved(v);
    const later = new Date(now.getTime() + 121_000);
    expect(codeOf(await v.validate(makeContext(store, { now: later, answer })))).toBe(
      'KEYVEND_POW_EXPIRED',
    );
  });

  it('refuses a forged or altered challenge as invalid', async () => {
    const v = pow(8);
    const { challenge } = await solved(v);
    const [h, p, s] = challenge.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const easier = Buffer.from(JSON.stringify({ ...payload, difficulty: 0 })).toString('base64url');
    const forged = `${h}.${easier}.${s}`;
    const result = await v.validate(
      makeContext(store, { now, answer: { challenge: forged, nonce: '0' } }),
    );
    expect(codeOf(result)).toBe('KEYVEND_POW_INVALID');

    const other = await createTestSigner(clock);
    const foreign = await other.sign({ ...payload, difficulty: 8 }, 300);
    const answer = await solveProofOfWork({ challenge: foreign, difficulty: 8 });
    expect(codeOf(await v.validate(makeContext(store, { now, answer })))).toBe(
      'KEYVEND_POW_INVALID',
    );
  });

  it('refuses a challenge issued for another profile or another validator', async () => {
    const answer = await solved(pow(8), 'other-profile');
    expect(codeOf(await pow(8).validate(makeContext(store, { now, answer })))).toBe(
      'KEYVEND_POW_INVALID',
    );
    const elsewhere = await solved(pow(8, 'second'));
    expect(codeOf(await pow(8).validate(makeContext(store, { now, answer: elsewhere })))).toBe(
      'KEYVEND_POW_INVALID',
    );
  });

  it('asks for a fresh challenge when the difficulty was raised since it was issued', async () => {
    const answer = await solved(pow(8));
    const result = await pow(12).validate(makeContext(store, { now, answer }));
    expect(codeOf(result)).toBe('KEYVEND_POW_EXPIRED');
  });

  it.each([
    ['a string', 'abc'],
    ['null', null],
    ['a missing nonce', { challenge: 'x.y.z' }],
    ['a nonce over 64 characters', { challenge: 'x.y.z', nonce: 'n'.repeat(65) }],
    ['a numeric nonce', { challenge: 'x.y.z', nonce: 7 }],
    ['a challenge over 2048 characters', { challenge: 'c'.repeat(2049), nonce: '1' }],
  ])('refuses %s as answer without a crash', async (_name, answer) => {
    expect(codeOf(await pow().validate(makeContext(store, { now, answer })))).toBe(
      'KEYVEND_POW_INVALID',
    );
  });

  it('checks an answer without spending it in precheck', async () => {
    const v = pow();
    const answer = await solved(v);
    expect(await v.precheck(makeContext(store, { now, answer }))).toBeNull();
    expect(await v.precheck(makeContext(store, { now, answer }))).toBeNull();
    expect(await v.validate(makeContext(store, { now, answer }))).toEqual({ outcome: 'pass' });
  });
});
