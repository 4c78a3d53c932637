/**
 * The reference solver for keyvend's proof-of-work challenge, for clients. A challenge is a
 * signed token plus a difficulty; the answer is any `nonce` for which
 * SHA-256(UTF-8(`${challenge}.${nonce}`)) starts with at least `difficulty` zero bits. keyvend
 * checks an answer with one hash; finding one takes about 2^difficulty hashes.
 *
 * Uses only `globalThis.crypto.subtle` and `TextEncoder`, so it runs unchanged in browsers,
 * React Native (with a WebCrypto polyfill), Deno and Node ≥ 20. It imports nothing.
 */

/** What the solver needs from a `proof-of-work` challenge. */
export interface ProofOfWorkChallenge {
  /** The signed challenge token, sent back unchanged. */
  challenge: string;
  /** Required leading zero bits. */
  difficulty: number;
}

/** The answer to send under `answers[challenge.id]`. */
export interface ProofOfWorkAnswer {
  challenge: string;
  nonce: string;
}

export interface SolveOptions {
  /** Stops the search: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Digests in flight per round (measured best on Node 20; larger batches were slower). */
const BATCH = 64;

/** Highest difficulty the solver accepts (keyvend issues at most 32). */
export const MAX_SOLVER_DIFFICULTY = 40;

/**
 * The number of leading zero bits of `bytes` (8 × length when all are zero).
 *
 * @example
 * ```ts
 * leadingZeroBits(new Uint8Array([0x00, 0x1f])); // 11
 * ```
 */
export function leadingZeroBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/**
 * Finds a nonce for a proof-of-work challenge.
 *
 * @example
 * ```ts
 * const reply = await register(); // 401 KEYVEND_CHALLENGE_REQUIRED
 * const pow = reply.error.challenges.find((c) => c.type === 'proof-of-work');
 * answers[pow.id] = await solveProofOfWork(pow);
 * ```
 */
export async function solveProofOfWork(
  challenge: ProofOfWorkChallenge,
  opts: SolveOptions = {},
): Promise<ProofOfWorkAnswer> {
  const { difficulty } = challenge;
  if (typeof challenge.challenge !== 'string' || challenge.challenge === '') {
    throw new TypeError('proof-of-work challenge must be a non-empty string');
  }
  if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > MAX_SOLVER_DIFFICULTY) {
    throw new RangeError(`proof-of-work difficulty must be an integer 0–${MAX_SOLVER_DIFFICULTY}`);
  }
  const subtle = globalThis.crypto?.subtle;
  if (subtle === undefined) throw new Error('proof-of-work needs globalThis.crypto.subtle');
  const encoder = new TextEncoder();
  const prefix = encoder.encode(`${challenge.challenge}.`);

  for (let start = 0; ; start += BATCH) {
    opts.signal?.throwIfAborted();
    const nonces: string[] = [];
    const digests: Promise<ArrayBuffer>[] = [];
    for (let n = start; n < start + BATCH; n++) {
      const nonce = n.toString(36);
      const tail = encoder.encode(nonce);
      const input = new Uint8Array(prefix.length + tail.length);
      input.set(prefix);
      input.set(tail, prefix.length);
      nonces.push(nonce);
      digests.push(subtle.digest('SHA-256', input));
    }
    const results = await Promise.all(digests);
    for (const [i, digest] of results.entries()) {
      if (leadingZeroBits(new Uint8Array(digest)) >= difficulty) {
        return { challenge: challenge.challenge, nonce: nonces[i] as string };
      }
    }
  }
}
