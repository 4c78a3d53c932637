/**
 * The signing keys of one use (registration tokens, or the OIDC provider's ID tokens), kept
 * in the store so every keyvend instance sharing it signs and verifies with the same keys.
 * One key is current and signs; retired keys keep verifying and stay in the JWKS until
 * `Store.deleteRetiredSigningKeys` removes them. A kid is the key's RFC 7638 thumbprint.
 *
 * Instances learn about keys rotated elsewhere by reloading from the store: on demand when a
 * token names a kid this ring does not hold (at most once per `reloadIntervalMs`, concurrent
 * callers sharing one load), when `reload()` is called, or periodically once
 * `startPeriodicReload` runs (so a ring starts signing with a key rotated in elsewhere). Private keys are held as
 * non-extractable CryptoKeys; the store holds them as JWKs.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { SigningKeyRecord, Store } from '../stores/store.js';

export type KeyUse = SigningKeyRecord['use'];
export type SigningAlg = 'ES256' | 'RS256' | 'EdDSA';

export interface KeyRingOptions {
  use: KeyUse;
  /** Algorithm of newly generated keys. An existing current key of another alg is rotated. */
  alg: SigningAlg;
  clock?: () => Date;
  /**
   * Least time between two reloads triggered by unknown kids (default 5000 ms). A token
   * signed by a key rotated in elsewhere is refused if it arrives within this time after this
   * ring's previous load; a longer interval spares the store from floods of made-up kids.
   */
  reloadIntervalMs?: number;
}

/** The key that signs now. */
export interface CurrentKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
}

interface VerifyingKey {
  alg: string;
  key: CryptoKey;
  /** Public JWK as published: kid, alg, use 'sig'. */
  jwk: JWK;
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/** Private keys are imported non-extractable; public ones stay exportable. */
async function importKey(jwk: JWK, alg: string): Promise<CryptoKey> {
  const key = await importJWK(jwk, alg, { extractable: jwk.d === undefined });
  if (key instanceof Uint8Array) throw new Error(`signing key of alg ${alg} is symmetric`);
  return key;
}

function publicPart(jwk: JWK): JWK {
  const out: JWK = {};
  for (const member of PUBLIC_MEMBERS) if (jwk[member] !== undefined) out[member] = jwk[member];
  return out;
}

/**
 * Signing and verification keys of one use, shared through the store.
 *
 * @example
 * ```ts
 * const ring = await KeyRing.open(store, { use: 'registration', alg: 'ES256' });
 * const { kid, alg, privateKey } = ring.current();
 * ```
 */
export class KeyRing {
  readonly use: KeyUse;
  readonly alg: SigningAlg;
  readonly #store: Store;
  readonly #clock: () => Date;
  readonly #reloadIntervalMs: number;
  #current: CurrentKey | undefined;
  #keys = new Map<string, VerifyingKey>();
  #lastLoadAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<void> | undefined;
  #epoch = 0;

  private constructor(store: Store, opts: KeyRingOptions) {
    this.use = opts.use;
    this.alg = opts.alg;
    this.#store = store;
    this.#clock = opts.clock ?? (() => new Date());
    this.#reloadIntervalMs = opts.reloadIntervalMs ?? 5000;
  }

  /**
   * Loads the keys of `opts.use` from the store. When there is no current key, or the current
   * one is not of `opts.alg`, generates a key of `opts.alg` and stores it as current.
   */
  static async open(store: Store, opts: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(store, opts);
    await ring.reload();
    if (ring.#current?.alg !== opts.alg) await ring.rotate();
    return ring;
  }

  /** The key that signs now. */
  current(): CurrentKey {
    if (!this.#current) throw new Error(`no current ${this.use} signing key`);
    return this.#current;
  }

  /**
   * The public key for `kid`, or undefined when the store does not have it (never had it, or
   * it was deleted). An unknown kid makes the ring reload from the store, at most once per
   * `reloadIntervalMs`, so a key rotated in by another instance is found. Rejects when that
   * reload fails (the store is down).
   */
  async verificationKey(kid: string): Promise<CryptoKey | undefined> {
    const known = this.#keys.get(kid);
    if (known) return known.key;
    if (this.#clock().getTime() - this.#lastLoadAt < this.#reloadIntervalMs) return undefined;
    await this.reload();
    return this.#keys.get(kid)?.key;
  }

  /** The algorithms of the keys this ring verifies with (each key verifies only its own). */
  algorithms(): string[] {
    return [...new Set([...this.#keys.values()].map((k) => k.alg))];
  }

  /**
   * Goes up by one whenever a reload finds that a key this ring held is gone from the store,
   * so caches of verified tokens know to drop what that key vouched for.
   */
  get epoch(): number {
    return this.#epoch;
  }

  /** Public keys of the current and the retired-but-not-deleted keys, current first. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.#keys.values()].map((k) => ({ ...k.jwk })) };
  }

  /**
   * Generates a key of this ring's alg and stores it as current; the previous key is retired
   * (keeps verifying, stays in the JWKS). Returns the new kid.
   */
  async rotate(): Promise<{ kid: string }> {
    const { privateKey, publicKey } = await generateKeyPair(this.alg, { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const publicJwk = publicPart(await exportJWK(publicKey));
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    const now = this.#clock();
    await this.#store.rotateSigningKey(
      {
        kid,
        use: this.use,
        alg: this.alg,
        privateJwk,
        publicJwk,
        createdAt: now,
        retiredAt: null,
      },
      now,
    );
    await this.reload();
    return { kid };
  }

  /**
   * Reloads every `intervalMs` in the background (timer unref'd), so this instance starts
   * signing with a key another instance rotated in and drops deleted keys. A failed reload
   * keeps the keys held. Returns the function that stops it.
   */
  startPeriodicReload(intervalMs: number): () => void {
    const timer = setInterval(() => {
      this.reload().catch(() => {});
    }, intervalMs);
    timer.unref?.();
    return () => clearInterval(timer);
  }

  /** Re-reads the keys from the store now. Concurrent calls share one load. */
  reload(): Promise<void> {
    if (!this.#loading) {
      this.#lastLoadAt = this.#clock().getTime();
      this.#loading = this.#load().finally(() => {
        this.#loading = undefined;
      });
    }
    return this.#loading;
  }

  async #load(): Promise<void> {
    const records = await this.#store.listSigningKeys(this.use);
    const keys = new Map<string, VerifyingKey>();
    // Current first, then the retired ones newest first (the store's order).
    const ordered = [
      ...records.filter((r) => r.retiredAt === null),
      ...records.filter((r) => r.retiredAt !== null),
    ];
    for (const record of ordered) {
      const held = this.#keys.get(record.kid);
      keys.set(
        record.kid,
        held ?? {
          alg: record.alg,
          key: await importKey(record.publicJwk, record.alg),
          jwk: { ...publicPart(record.publicJwk), kid: record.kid, alg: record.alg, use: 'sig' },
        },
      );
    }
    const currentRecord = ordered[0]?.retiredAt === null ? ordered[0] : undefined;
    let current: CurrentKey | undefined;
    if (currentRecord) {
      current =
        this.#current?.kid === currentRecord.kid
          ? this.#current
          : {
              kid: currentRecord.kid,
              alg: currentRecord.alg,
              privateKey: await importKey(currentRecord.privateJwk, currentRecord.alg),
            };
    }
    const lost = [...this.#keys.keys()].some((kid) => !keys.has(kid));
    this.#keys = keys;
    this.#current = current;
    if (lost) this.#epoch++;
  }
}
