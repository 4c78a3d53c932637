/**
 * What keeps STS faults from becoming device-facing failures: bounded retries with full
 * jitter, and a circuit breaker per issuer. Every issuer runs its STS call through one
 * `Resilience`; the credential cache in front adds the third layer, serving still-valid
 * credentials while this one fails fast.
 *
 * - Retries: only throttling and transient failures (`isRetryable`: 503 `KEYVEND_STS_THROTTLED`
 *   / `KEYVEND_STS_UNAVAILABLE`, i.e. throttles, 5xx, timeouts, resets, refused connections).
 *   `maxAttempts` attempts in all, the n-th retry after `random() × min(maxDelayMs, base × 2^n)`
 *   (full jitter), base 100 ms, or 500 ms after a throttle (the SDK's numbers). The SDK's
 *   own retries are off for STS (`aws-clients.ts`) so attempts do not multiply.
 * - Breaker: after `failureThreshold` calls in a row that failed retryably (after their
 *   retries), it opens: calls fail at once with 503 `KEYVEND_STS_UNAVAILABLE` and a
 *   `Retry-After` of the time left. After `openMs` the next call is a single-attempt probe
 *   (half-open; concurrent calls still fail fast): success closes the breaker, a retryable
 *   failure opens it again. Any answer from STS, even a refusal (a rejected policy), proves
 *   STS is reachable and counts as a success for the breaker.
 *
 * Clock, random and sleep are injectable, so tests run without waiting.
 */
import { KeyvendError } from '../errors.js';
import { isRetryable } from './aws-errors.js';

export interface ResilienceOptions {
  /** Attempts per call, first one included (config `aws.maxAttempts`). Default 3. */
  maxAttempts?: number;
  /** Backoff base in ms for transient failures. Default 100. */
  baseDelayMs?: number;
  /** Backoff base in ms after a throttle. Default 500. */
  throttleBaseDelayMs?: number;
  /** Ceiling of one backoff in ms. Default 5000. */
  maxDelayMs?: number;
  /** Consecutive failed calls that open the breaker. Default 5. */
  failureThreshold?: number;
  /** How long the breaker stays open before a probe, in ms. Default 10 000. */
  openMs?: number;
  clock?: () => Date;
  /** In [0, 1). Default `Math.random`. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called when the breaker opens, goes half-open or closes (for logs). */
  onStateChange?: (state: BreakerState, previous: BreakerState) => void;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface ResilienceStats {
  state: BreakerState;
  /** STS attempts made (calls plus retries). */
  attempts: number;
  retries: number;
  /** Calls refused without trying while the breaker was open. */
  rejected: number;
  /** Times the breaker opened. */
  opens: number;
  consecutiveFailures: number;
}

/**
 * Retries plus a circuit breaker around one issuer's STS calls.
 *
 * @example
 * ```ts
 * const resilience = new Resilience({ maxAttempts: config.aws.maxAttempts });
 * const out = await resilience.run(() => callSts()); // callSts throws translated KeyvendErrors
 * ```
 */
export class Resilience {
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #throttleBaseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #failureThreshold: number;
  readonly #openMs: number;
  readonly #clock: () => Date;
  readonly #random: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #onStateChange: ((state: BreakerState, previous: BreakerState) => void) | undefined;

  #state: BreakerState = 'closed';
  #openedAt = 0;
  #probing = false;
  #consecutiveFailures = 0;
  #attempts = 0;
  #retries = 0;
  #rejected = 0;
  #opens = 0;

  constructor(options: ResilienceOptions = {}) {
    this.#maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 3));
    this.#baseDelayMs = options.baseDelayMs ?? 100;
    this.#throttleBaseDelayMs = options.throttleBaseDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 5000;
    this.#failureThreshold = Math.max(1, Math.floor(options.failureThreshold ?? 5));
    this.#openMs = options.openMs ?? 10_000;
    this.#clock = options.clock ?? (() => new Date());
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#onStateChange = options.onStateChange;
  }

  /** The breaker's state as of now (an open breaker past `openMs` reads half-open). */
  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#openMs) return 'half-open';
    return this.#state;
  }

  stats(): ResilienceStats {
    return {
      state: this.state,
      attempts: this.#attempts,
      retries: this.#retries,
      rejected: this.#rejected,
      opens: this.#opens,
      consecutiveFailures: this.#consecutiveFailures,
    };
  }

  /**
   * Runs `fn` under the breaker with retries. `fn` must throw translated `KeyvendError`s
   * (`translateAwsError`); only retryable ones are retried or count against the breaker.
   *
   * @throws `KEYVEND_STS_UNAVAILABLE` (503, `Retry-After`) at once while the breaker is open.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const probe = this.#admit();
    try {
      const result = await this.#withRetries(fn, probe ? 1 : this.#maxAttempts);
      this.#succeeded();
      return result;
    } catch (err) {
      if (isRetryable(err)) this.#failed();
      else this.#succeeded();
      throw err;
    } finally {
      if (probe) this.#probing = false;
    }
  }

  /** Lets a call through, or throws while open. Returns true when the call is the probe. */
  #admit(): boolean {
    if (this.#state === 'closed') return false;
    const waited = this.#now() - this.#openedAt;
    if (waited >= this.#openMs && !this.#probing) {
      this.#setState('half-open');
      this.#probing = true;
      return true;
    }
    this.#rejected++;
    const retryAfter = Math.max(1, Math.ceil((this.#openMs - waited) / 1000));
    throw new KeyvendError('KEYVEND_STS_UNAVAILABLE', undefined, {
      cause: new Error('circuit breaker open after repeated STS failures'),
      headers: { 'retry-after': String(retryAfter) },
    });
  }

  async #withRetries<T>(fn: () => Promise<T>, attempts: number): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.#attempts++;
      try {
        return await fn();
      } catch (err) {
        if (attempt >= attempts || !isRetryable(err)) throw err;
        const throttled = (err as KeyvendError).code === 'KEYVEND_STS_THROTTLED';
        const base = throttled ? this.#throttleBaseDelayMs : this.#baseDelayMs;
        const ceiling = Math.min(this.#maxDelayMs, base * 2 ** (attempt - 1));
        this.#retries++;
        await this.#sleep(this.#random() * ceiling);
      }
    }
  }

  #succeeded(): void {
    this.#consecutiveFailures = 0;
    this.#setState('closed');
  }

  #failed(): void {
    this.#consecutiveFailures++;
    if (this.#state === 'half-open' || this.#consecutiveFailures >= this.#failureThreshold) {
      if (this.#state !== 'open') this.#opens++;
      this.#openedAt = this.#now();
      this.#setState('open');
    }
  }

  #setState(state: BreakerState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#onStateChange?.(state, previous);
  }

  #now(): number {
    return this.#clock().getTime();
  }
}
