/**
 * The test knobs of the local AWS endpoint: the STS token bucket (600 requests/s by default,
 * like STS's per-account quota), forced throttles and faults for the next N requests, added
 * latency, the packed-policy budget, disabled regions, and the credential clock. Every knob
 * defaults to AWS's behaviour; `reset` puts them all back.
 */

/** What `failNext` does to a request. */
export type FaultKind = 'internal' | 'reset' | 'timeout';

/** A token bucket: `burst` tokens, refilled at `ratePerSecond`. */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #last: number;
  readonly #now: () => number;

  constructor(ratePerSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.#rate = ratePerSecond;
    this.#burst = burst;
    this.#tokens = burst;
    this.#now = now;
    this.#last = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const t = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((t - this.#last) / 1000) * this.#rate);
    this.#last = t;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export const DEFAULT_RATE = { ratePerSecond: 600, burst: 600 } as const;
/** Packed-size budget in estimate units (see `packed-size.ts`). */
export const DEFAULT_PACKED_BUDGET = 2048;

/** Mutable knob state shared by the server and the control surface. */
export class Knobs {
  throttleRemaining = 0;
  rate: { ratePerSecond: number; burst: number } = { ...DEFAULT_RATE };
  bucket = new TokenBucket(DEFAULT_RATE.ratePerSecond, DEFAULT_RATE.burst);
  readonly faults: FaultKind[] = [];
  latencyMs = 0;
  forcePackedTooLarge = false;
  packedBudget = DEFAULT_PACKED_BUDGET;
  readonly disabledRegions = new Set<string>();
  fixedClock: Date | null = null;
  clockOffsetMs = 0;
  readonly #baseClock: () => Date;

  constructor(baseClock: () => Date) {
    this.#baseClock = baseClock;
  }

  /** The credential clock: issuance times and expiry checks. */
  now(): Date {
    const base = this.fixedClock ?? this.#baseClock();
    return new Date(base.getTime() + this.clockOffsetMs);
  }

  setRateLimit(ratePerSecond: number, burst: number): void {
    this.rate = { ratePerSecond, burst };
    this.bucket = new TokenBucket(ratePerSecond, burst);
  }

  /** Whether the next STS request is throttled (forced throttles first, then the bucket). */
  takeThrottle(): boolean {
    if (this.throttleRemaining > 0) {
      this.throttleRemaining -= 1;
      return true;
    }
    return !this.bucket.take();
  }

  reset(): void {
    this.throttleRemaining = 0;
    this.setRateLimit(DEFAULT_RATE.ratePerSecond, DEFAULT_RATE.burst);
    this.faults.length = 0;
    this.latencyMs = 0;
    this.forcePackedTooLarge = false;
    this.packedBudget = DEFAULT_PACKED_BUDGET;
    this.disabledRegions.clear();
    this.fixedClock = null;
    this.clockOffsetMs = 0;
  }
}
