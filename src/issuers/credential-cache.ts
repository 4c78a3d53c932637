/**
 * The credential cache in front of every issuer, one per keyvend (all issuers share its LRU).
 * It keeps STS to about one call per device per credential lifetime:
 *
 * - A cached entry is handed out while it is fresh: more than `minRemainingSeconds` and more
 *   than `refreshShare` of its lifetime remain. Past that, the next request mints anew.
 * - Concurrent misses for one key share one in-flight mint (aws-jwt-verify's shared promise):
 *   100 simultaneous requests make one STS call.
 * - A failed mint is not cached. When it failed on keyvend's or AWS's side (5xx: STS down,
 *   throttled, breaker open) and the old entry is still valid for `outageFloorSeconds`, the
 *   old entry is served instead: an outage shortens nothing a device already could have.
 * - Memory only, never persisted (the entries are live secrets); safe to lose.
 *
 * Keys are `<device id>#<hash>` (`credentialCacheKey`): entries are grouped per device in one
 * `LruCache` of at most `maxEntries` devices, each holding its few most recent variants
 * (policy, tags, TTL), so `invalidateDevice` drops a device's credentials in one step.
 */
import { createHash } from 'node:crypto';
import { isKeyvendError } from '../errors.js';
import { LruCache } from '../lru-cache.js';
import type { IssuedCredentials, IssueRequest } from './issuer.js';

// The vend service imports computeTtl from here; it lives in ttl.ts.
export { computeTtl } from './ttl.js';

export interface CredentialCacheOptions {
  /** Devices held at most (config `credentialCache.maxEntries`); 0 disables caching. */
  maxEntries: number;
  /** Entries are handed out only while more than this remains (seconds). */
  minRemainingSeconds: number;
  /**
   * Entries are handed out only while more than this share of their lifetime remains,
   * e.g. 0.25 → a 1 h credential is refreshed once less than 15 min remain. Default 0.25.
   */
  refreshShare?: number;
  /** During an outage, an entry is still served while this much remains (s). Default 60. */
  outageFloorSeconds?: number;
  clock?: () => Date;
}

export interface CredentialCacheStats {
  /** Requests answered from a fresh entry. */
  hits: number;
  /** Requests that found no fresh entry (= mints + inflightJoins). */
  misses: number;
  /** Mints started (issuer calls). */
  mints: number;
  /** Requests that waited on another request's mint. */
  inflightJoins: number;
  /** Requests answered with a still-valid entry because the mint failed. */
  staleServed: number;
  /** Mints that failed. */
  mintFailures: number;
  /** Devices with cached credentials now (each holds a few variants at most). */
  devices: number;
}

interface Entry {
  credentials: IssuedCredentials;
  /** Until when (ms) the entry is handed out without minting. */
  freshUntil: number;
}

/** A mint in progress, shared by every request for its key. */
interface Flight {
  deviceId: string;
  /** Set by `invalidateDevice`: the result is handed out but not cached. */
  invalidated: boolean;
  promise: Promise<IssuedCredentials>;
}

/** Variants kept per device (a device rarely has more than one). */
const VARIANTS_PER_DEVICE = 4;

/**
 * Derives the cache key for one issuance: the device id, then a SHA-256 over everything that
 * shapes the credentials (profile, issuer config, principal, policy, managed ARNs, tags, TTL,
 * the device's user and attributes, which issuers turn into session tags).
 */
export function credentialCacheKey(request: IssueRequest): string {
  const shape = JSON.stringify([
    request.profileName,
    request.profile.issuer,
    request.principalName,
    request.policy ?? null,
    request.policyArns,
    [...request.tags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
    request.durationSeconds,
    request.device.userId,
    Object.entries(request.device.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);
  const hash = createHash('sha256').update(shape).digest('base64url');
  return `${request.device.id}#${hash}`;
}

/**
 * Caches minted credentials per key, sharing in-flight mints.
 *
 * @example
 * ```ts
 * const cache = new CredentialCache({ ...config.credentialCache, clock });
 * const creds = await cache.get(credentialCacheKey(request), () => issuer.issue(request));
 * ```
 */
export class CredentialCache {
  readonly #devices: LruCache<string, Map<string, Entry>>;
  readonly #inflight = new Map<string, Flight>();
  readonly #minRemainingMs: number;
  readonly #refreshShare: number;
  readonly #outageFloorMs: number;
  readonly #clock: () => Date;
  #stats = { hits: 0, misses: 0, mints: 0, inflightJoins: 0, staleServed: 0, mintFailures: 0 };

  constructor(options: CredentialCacheOptions) {
    this.#devices = new LruCache(options.maxEntries);
    this.#minRemainingMs = Math.max(0, options.minRemainingSeconds) * 1000;
    this.#refreshShare = Math.min(1, Math.max(0, options.refreshShare ?? 0.25));
    this.#outageFloorMs = Math.max(0, options.outageFloorSeconds ?? 60) * 1000;
    this.#clock = options.clock ?? (() => new Date());
  }

  /**
   * The credentials for `key`: a fresh cached entry, the result of a mint already running
   * for `key`, or the result of `mint()` (cached when it succeeds).
   *
   * @throws whatever `mint` threw, unless a still-valid entry could be served instead.
   */
  get(key: string, mint: () => Promise<IssuedCredentials>): Promise<IssuedCredentials> {
    const { deviceId, variant } = splitKey(key);
    const entry = this.#devices.get(deviceId)?.get(variant);
    if (entry !== undefined && this.#now() < entry.freshUntil) {
      this.#stats.hits++;
      return Promise.resolve(entry.credentials);
    }
    this.#stats.misses++;
    const running = this.#inflight.get(key);
    if (running !== undefined) {
      this.#stats.inflightJoins++;
      return running.promise;
    }
    this.#stats.mints++;
    const state = { deviceId, invalidated: false };
    const promise = this.#mint(state, variant, mint).finally(() => {
      if (this.#inflight.get(key) === state) this.#inflight.delete(key);
    });
    // The same object: invalidateDevice flags `state` through it.
    const flight: Flight = Object.assign(state, { promise });
    this.#inflight.set(key, flight);
    return flight.promise;
  }

  /**
   * Drops every cached credential of a device (disabled, deleted, re-linked). A mint running
   * for it still answers its waiters but is not cached, and later requests mint anew.
   */
  invalidateDevice(deviceId: string): void {
    this.#devices.delete(deviceId);
    for (const [key, flight] of this.#inflight) {
      if (flight.deviceId !== deviceId) continue;
      flight.invalidated = true;
      this.#inflight.delete(key);
    }
  }

  /** Drops everything. */
  clear(): void {
    this.#devices.clear();
  }

  stats(): CredentialCacheStats {
    return { ...this.#stats, devices: this.#devices.size };
  }

  async #mint(
    flight: Omit<Flight, 'promise'>,
    variant: string,
    mint: () => Promise<IssuedCredentials>,
  ): Promise<IssuedCredentials> {
    const { deviceId } = flight;
    const startedAt = this.#now();
    try {
      const credentials = await mint();
      if (!flight.invalidated) this.#store(deviceId, variant, credentials, startedAt);
      return credentials;
    } catch (err) {
      this.#stats.mintFailures++;
      const stale = this.#devices.get(deviceId)?.get(variant);
      const dependencyFailure = !isKeyvendError(err) || err.statusCode >= 500;
      if (
        dependencyFailure &&
        stale !== undefined &&
        stale.credentials.expiration.getTime() - this.#now() > this.#outageFloorMs
      ) {
        this.#stats.staleServed++;
        return stale.credentials;
      }
      throw err;
    }
  }

  #store(deviceId: string, variant: string, credentials: IssuedCredentials, startedAt: number) {
    const expiresAt = credentials.expiration.getTime();
    if (!Number.isFinite(expiresAt)) return;
    const lifetime = Math.max(0, expiresAt - startedAt);
    const margin = Math.max(this.#minRemainingMs, this.#refreshShare * lifetime);
    const freshUntil = expiresAt - margin;
    if (freshUntil <= this.#now()) return;
    let variants = this.#devices.get(deviceId);
    if (variants === undefined) {
      variants = new Map();
      this.#devices.set(deviceId, variants);
      // maxEntries 0: the LRU keeps nothing, so neither do we.
      if (this.#devices.get(deviceId) === undefined) return;
    }
    variants.delete(variant);
    variants.set(variant, { credentials, freshUntil });
    while (variants.size > VARIANTS_PER_DEVICE) {
      const oldest = variants.keys().next();
      if (oldest.done) break;
      variants.delete(oldest.value);
    }
  }

  #now(): number {
    return this.#clock().getTime();
  }
}

function splitKey(key: string): { deviceId: string; variant: string } {
  const at = key.lastIndexOf('#');
  return at === -1
    ? { deviceId: key, variant: '' }
    : { deviceId: key.slice(0, at), variant: key.slice(at + 1) };
}
