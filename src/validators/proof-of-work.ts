/**
 * The `proof-of-work` validator: a hashcash puzzle that makes each registration cost the
 * client about 2^difficulty SHA-256 hashes while costing keyvend one. keyvend hands out a
 * signed challenge (random 16-byte id, profile, difficulty, expiry) and stores nothing; the
 * client answers `{ challenge, nonce }` such that SHA-256(UTF-8(`${challenge}.${nonce}`)) has at
 * least `difficulty` leading zero bits (`src/client/proof-of-work.ts` is the reference solver).
 * A challenge works once: its id is marked used in the store (`pow:<id>`) until it expires.
 *
 * Refusals: a forged, altered or malformed challenge or a wrong nonce →
 * `KEYVEND_POW_INVALID`; too late → `KEYVEND_POW_EXPIRED`; used before →
 * `KEYVEND_POW_REPLAYED`. Each time the client registers again without an answer to get a
 * fresh challenge.
 */
import { createHash, randomBytes } from 'node:crypto';
import { leadingZeroBits } from '../client/proof-of-work.js';
import type { ProofOfWorkValidatorConfig } from '../config/validator-schemas.js';
import { type ErrorCode, KeyvendError } from '../errors.js';
import type { ChallengeSigner } from './challenge-signer.js';
import type { ComposableValidator } from './compose.js';
import type { ValidationContext, ValidationResult } from './validator.js';

/** Longest challenge token accepted back (issued ones are ~400 characters). */
const MAX_CHALLENGE_LENGTH = 2048;
/** Longest nonce accepted. */
export const MAX_POW_NONCE_LENGTH = 64;
/**
 * The signed token outlives the puzzle by this much, so an answer that comes a little late is
 * told "expired" (keyvend's own check) rather than "invalid" (the signer's).
 */
const SIGNATURE_GRACE_SECONDS = 600;
/** Replay markers outlive the expiry by this much, covering clock skew between instances. */
const MARKER_MARGIN_MS = 60_000;

/** Marks a payload as a keyvend proof-of-work challenge (the signer is shared). */
const KIND = 'proof-of-work';

interface PowPayload {
  kind: typeof KIND;
  validator: string;
  profile: string;
  /** Challenge id: 16 random bytes, base64url. */
  cid: string;
  difficulty: number;
  /** Expiry, Unix seconds. */
  expiresAt: number;
}

export interface ProofOfWorkOptions {
  signer: ChallengeSigner;
}

export class ProofOfWorkValidator implements ComposableValidator {
  readonly type = 'proof-of-work';
  readonly id: string;
  readonly #difficulty: number;
  readonly #ttlSeconds: number;
  readonly #signer: ChallengeSigner;

  constructor(config: ProofOfWorkValidatorConfig, options: ProofOfWorkOptions) {
    this.id = config.id ?? 'proof-of-work';
    this.#difficulty = config.difficulty;
    this.#ttlSeconds = config.ttlSeconds;
    this.#signer = options.signer;
  }

  async precheck(ctx: ValidationContext): Promise<ValidationResult | null> {
    const checked = await this.#check(ctx);
    return 'outcome' in checked ? checked : null;
  }

  async validate(ctx: ValidationContext): Promise<ValidationResult> {
    const checked = await this.#check(ctx);
    if ('outcome' in checked) return checked;
    const first = await ctx.store.markOnce(
      `pow:${checked.cid}`,
      new Date(checked.expiresAt * 1000 + MARKER_MARGIN_MS),
    );
    if (!first) return this.#deny('KEYVEND_POW_REPLAYED', 'replayed');
    return { outcome: 'pass' };
  }

  /** Everything but the replay check: a result to answer with, or the verified payload. */
  async #check(ctx: ValidationContext): Promise<ValidationResult | PowPayload> {
    if (ctx.answer === undefined) return this.#challenge(ctx);
    const answer = ctx.answer as Record<string, unknown> | null;
    const token = answer?.challenge;
    const nonce = answer?.nonce;
    if (
      answer === null ||
      typeof answer !== 'object' ||
      typeof token !== 'string' ||
      token.length === 0 ||
      token.length > MAX_CHALLENGE_LENGTH ||
      typeof nonce !== 'string' ||
      nonce.length === 0 ||
      nonce.length > MAX_POW_NONCE_LENGTH
    ) {
      return this.#deny('KEYVEND_POW_INVALID', 'answer-malformed');
    }
    let raw: Record<string, unknown>;
    try {
      raw = await this.#signer.verify(token);
    } catch (err) {
      return (err as { code?: unknown })?.code === 'ERR_JWT_EXPIRED'
        ? this.#deny('KEYVEND_POW_EXPIRED', 'expired')
        : this.#deny('KEYVEND_POW_INVALID', 'challenge-invalid');
    }
    const payload = asPayload(raw);
    if (payload === null || payload.validator !== this.id || payload.profile !== ctx.profile) {
      return this.#deny('KEYVEND_POW_INVALID', 'challenge-invalid');
    }
    if (payload.expiresAt * 1000 <= ctx.now.getTime()) {
      return this.#deny('KEYVEND_POW_EXPIRED', 'expired');
    }
    if (payload.difficulty < this.#difficulty) {
      // Issued before the operator raised the difficulty: ask for a fresh challenge.
      return this.#deny('KEYVEND_POW_EXPIRED', 'difficulty-raised');
    }
    const digest = createHash('sha256').update(`${token}.${nonce}`, 'utf8').digest();
    if (leadingZeroBits(digest) < payload.difficulty) {
      return this.#deny('KEYVEND_POW_INVALID', 'not-solved');
    }
    return payload;
  }

  async #challenge(ctx: ValidationContext): Promise<ValidationResult> {
    const expiresAt = Math.floor(ctx.now.getTime() / 1000) + this.#ttlSeconds;
    const payload: PowPayload = {
      kind: KIND,
      validator: this.id,
      profile: ctx.profile,
      cid: randomBytes(16).toString('base64url'),
      difficulty: this.#difficulty,
      expiresAt,
    };
    const token = await this.#signer.sign(
      { ...payload },
      this.#ttlSeconds + SIGNATURE_GRACE_SECONDS,
    );
    return {
      outcome: 'challenge',
      challenges: [
        {
          type: 'proof-of-work',
          id: this.id,
          algorithm: 'sha256',
          difficulty: this.#difficulty,
          challenge: token,
          expiresAt: new Date(expiresAt * 1000).toISOString(),
        },
      ],
    };
  }

  #deny(code: ErrorCode, reason: string): ValidationResult {
    return {
      outcome: 'deny',
      error: new KeyvendError(code, undefined, { details: { validator: this.id, reason } }),
    };
  }
}

function asPayload(raw: Record<string, unknown>): PowPayload | null {
  const { kind, validator, profile, cid, difficulty, expiresAt } = raw;
  if (
    kind !== KIND ||
    typeof validator !== 'string' ||
    typeof profile !== 'string' ||
    typeof cid !== 'string' ||
    cid.length < 16 ||
    typeof difficulty !== 'number' ||
    !Number.isInteger(difficulty) ||
    typeof expiresAt !== 'number'
  ) {
    return null;
  }
  return { kind, validator, profile, cid, difficulty, expiresAt };
}
