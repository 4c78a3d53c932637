/**
 * `createKeyvend`: the device side of keyvend. It registers on first use (answering
 * proof-of-work challenges itself and handing any other challenge to the app), keeps the
 * registration token — and, for key-bound devices, a non-extractable WebCrypto key — in the
 * storage it is given, and trades the token for temporary AWS credentials, which it caches and
 * refreshes a margin before they expire with at most one request in flight. A token the server
 * refuses for good (invalid, expired, unknown device) is dropped and the device registers again;
 * a disabled device surfaces as `KEYVEND_DEVICE_DISABLED`.
 *
 * Hazard: everything here must run in browsers and React Native as well as Node — no Node
 * modules, no `Buffer`, no `process`.
 */
import { isKeyvendClientError, type KeyvendChallenge, KeyvendClientError } from './client-error.js';
import { createDpopProof, exportPublicJwk, generateDeviceKey } from './dpop.js';
import {
  type FetchLike,
  type HttpContext,
  isRecord,
  type KeyvendCredentials,
  parseCredentialsReply,
  parseRegisterReply,
  requestJson,
} from './http-api.js';
import { solveProofOfWork } from './proof-of-work.js';
import type { KeyvendStorage } from './storage.js';

export type { FetchLike, FetchResponseLike, KeyvendCredentials } from './http-api.js';

/**
 * Called for every registration challenge the library cannot solve itself (a captcha, an
 * invite code, a sign-in). Resolve to the answer — e.g. the captcha widget's response token —
 * or to `undefined` to give up (registration then fails with
 * `KEYVEND_CLIENT_CHALLENGE_UNANSWERED`).
 */
export type ChallengeHandler = (
  challenge: KeyvendChallenge,
  context: { profile: string },
) => unknown | Promise<unknown>;

export interface KeyvendOptions {
  /** keyvend's base URL, e.g. `https://keyvend.example.com`. */
  url: string;
  /** The profile to register for (the operator names it). */
  profile: string;
  /** Where the registration (and key pair) are kept: see `memoryStorage`, `webStorage`, `indexedDbStorage`. */
  storage: KeyvendStorage;
  /** A `fetch` implementation (default `globalThis.fetch`). */
  fetch?: FetchLike;
  /** Answers challenges other than proof-of-work. */
  onChallenge?: ChallengeHandler;
  /**
   * Bind the registration to a non-extractable WebCrypto key pair and sign a DPoP proof on each
   * request, so a copied token is useless. The storage must hold `CryptoKey`s (IndexedDB,
   * memory). Default false.
   */
  keyBound?: boolean;
  /** Answers known before the server asks, keyed by challenge id (e.g. `{ invite: 'CODE' }`). */
  answers?: Record<string, unknown>;
  /** Requested credential lifetime in seconds (the server clamps it to the profile's bounds). */
  ttl?: number;
  /** Refresh credentials this many seconds before they expire (default 300). */
  refreshMarginSeconds?: number;
  /** Per-request timeout (default 30 000 ms). */
  timeoutMs?: number;
  /** Retries after throttling, an unavailable server or a network failure (default 2). */
  retries?: number;
  /** Longest wait before a retry; a longer `Retry-After` is not waited for (default 5 000 ms). */
  maxRetryDelayMs?: number;
  /** Prefix of the storage keys (default `keyvend:<profile>`). */
  storageKey?: string;
  /** The current time (tests inject one); default `() => new Date()`. */
  clock?: () => Date;
}

/** What a registered device keeps. Returned by `register()`; stored as a plain JSON object. */
export interface KeyvendRegistration {
  deviceId: string;
  profile: string;
  /** The registration token: a secret. Never log it. */
  token: string;
  tokenExpiresAt: string;
  /** True when the token is bound to the stored key pair (DPoP). */
  keyBound: boolean;
  /** The keyvend URL it was registered with; a registration from another URL is not used. */
  url: string;
}

export interface KeyvendClient {
  /**
   * Registers the device unless a usable registration is already stored, and returns it.
   * `credentials()` calls this itself; call it early to show a captcha at a moment of your
   * choosing.
   */
  register(options?: { signal?: AbortSignal }): Promise<KeyvendRegistration>;
  /**
   * Temporary AWS credentials: from the cache while more than the refresh margin remains,
   * else fetched, with concurrent callers sharing one request. If an early refresh fails for a
   * retryable reason while the cached credentials are still valid, those are returned.
   */
  credentials(options?: {
    signal?: AbortSignal;
    forceRefresh?: boolean;
  }): Promise<KeyvendCredentials>;
  /** The stored registration, or undefined; never contacts the server. */
  registration(): Promise<KeyvendRegistration | undefined>;
  /** Drops the cached credentials, the stored registration and the key pair. */
  forget(): Promise<void>;
}

/** Codes after which a token will never work again: register afresh. */
const REFUSED_FOR_GOOD = new Set([
  'KEYVEND_TOKEN_INVALID',
  'KEYVEND_TOKEN_EXPIRED',
  'KEYVEND_TOKEN_WRONG_AUDIENCE',
  'KEYVEND_DEVICE_NOT_FOUND',
  'KEYVEND_PROOF_KEY_MISMATCH',
]);

/** Refusals of a proof-of-work answer that a fresh puzzle cures. */
const STALE_PUZZLE = new Set(['KEYVEND_POW_EXPIRED', 'KEYVEND_POW_REPLAYED']);
/** Challenge rounds before giving up (each round answers every open challenge). */
const MAX_CHALLENGE_ROUNDS = 4;
/** A stored token this close to its expiry is not worth sending. */
const TOKEN_EXPIRY_SLACK_MS = 60_000;
/** Cached credentials are still handed out while at least this much lifetime remains. */
const STILL_VALID_MS = 10_000;
/** After a failed early refresh, wait this long (or `Retry-After`) before the next try. */
const REFRESH_BACKOFF_MS = 30_000;

/**
 * Creates a keyvend client for one profile.
 *
 * @example
 * ```ts
 * import { createKeyvend, indexedDbStorage } from 'keyvend/client';
 *
 * const keyvend = createKeyvend({
 *   url: 'https://keyvend.example.com',
 *   profile: 'web',
 *   storage: indexedDbStorage(),
 *   keyBound: true,
 *   onChallenge: async (challenge) =>
 *     challenge.type === 'captcha' ? await showCaptcha(challenge.siteKey) : undefined,
 * });
 * const { accessKeyId, expiration } = await keyvend.credentials();
 * ```
 */
export function createKeyvend(options: KeyvendOptions): KeyvendClient {
  const baseUrl = options.url.replace(/\/+$/, '');
  const profile = options.profile;
  const storage = options.storage;
  const clock = options.clock ?? (() => new Date());
  const now = () => clock().getTime();
  const marginMs = (options.refreshMarginSeconds ?? 300) * 1000;
  const retries = Math.max(0, Math.floor(options.retries ?? 2));
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 5000;
  const prefix = options.storageKey ?? `keyvend:${profile}`;
  const registrationKey = `${prefix}:registration`;
  const keyPairKey = `${prefix}:key`;

  const http: HttpContext = {
    baseUrl,
    fetch: options.fetch ?? defaultFetch(),
    timeoutMs: options.timeoutMs ?? 30_000,
    now: clock,
  };

  interface Device {
    registration: KeyvendRegistration;
    keyPair: CryptoKeyPair | undefined;
  }

  let device: Device | undefined;
  let cached: KeyvendCredentials | undefined;
  let refreshing: Promise<KeyvendCredentials> | undefined;
  let registering: Promise<Device> | undefined;
  let nextRefreshAttempt = 0;
  /** Bumped by `forget()` so a request already in flight cannot store its stale result. */
  let generation = 0;

  async function loadDevice(): Promise<Device | undefined> {
    const stored = asRegistration(await storage.get(registrationKey));
    if (stored === undefined || stored.url !== baseUrl || stored.profile !== profile) return;
    if (Date.parse(stored.tokenExpiresAt) - now() < TOKEN_EXPIRY_SLACK_MS) return;
    if (!stored.keyBound) return { registration: stored, keyPair: undefined };
    const keyPair = await storage.get(keyPairKey);
    // The key was lost (storage cleared, another browser profile): the token is useless.
    if (!isKeyPair(keyPair)) return;
    return { registration: stored, keyPair };
  }

  function ensureDevice(): Promise<Device> {
    if (device !== undefined) return Promise.resolve(device);
    registering ??= (async () => {
      const started = generation;
      const found = (await loadDevice()) ?? (await registerNow(started));
      if (started === generation) device = found;
      return found;
    })().finally(() => {
      registering = undefined;
    });
    return registering;
  }

  /** Registers a new device; `started` is the `generation` the caller began in. */
  async function registerNow(started: number): Promise<Device> {
    let keyPair: CryptoKeyPair | undefined;
    let publicKey: unknown;
    if (options.keyBound) {
      requireWebCrypto();
      keyPair = await generateDeviceKey();
      // Stored before the server knows it, so a storage that cannot hold keys fails early.
      await storage.set(keyPairKey, keyPair);
      publicKey = await exportPublicJwk(keyPair.publicKey);
    }
    const answers: Record<string, unknown> = { ...options.answers };
    /** Ids of the proof-of-work answers this library computed. */
    const solved = new Set<string>();
    let reply: unknown;
    for (let round = 1; ; round++) {
      const body = {
        profile,
        ...(Object.keys(answers).length > 0 ? { answers } : {}),
        ...(publicKey === undefined ? {} : { publicKey }),
      };
      try {
        reply = await withRetries(() =>
          requestJson(http, { method: 'POST', path: '/v1/devices', body }),
        );
        break;
      } catch (err) {
        if (!isKeyvendClientError(err) || round >= MAX_CHALLENGE_ROUNDS) throw err;
        if (STALE_PUZZLE.has(err.code) && solved.size > 0) {
          // The puzzle expired while being solved (a slow device): ask for a fresh one.
          for (const id of solved) delete answers[id];
          solved.clear();
          continue;
        }
        if (err.code !== 'KEYVEND_CHALLENGE_REQUIRED') throw err;
        for (const challenge of err.challenges ?? []) {
          answers[challenge.id] = await answer(challenge);
          if (challenge.type === 'proof-of-work') solved.add(challenge.id);
        }
      }
    }
    const registered = parseRegisterReply(reply);
    const registration: KeyvendRegistration = {
      deviceId: registered.deviceId,
      profile: registered.profile,
      token: registered.token,
      tokenExpiresAt: registered.tokenExpiresAt,
      keyBound: keyPair !== undefined && registered.keyBound,
      url: baseUrl,
    };
    // forget() ran meanwhile: hand the device to the waiting caller, but do not keep it.
    if (started === generation) await storage.set(registrationKey, registration);
    return { registration, keyPair: registration.keyBound ? keyPair : undefined };
  }

  async function answer(challenge: KeyvendChallenge): Promise<unknown> {
    if (
      challenge.type === 'proof-of-work' &&
      typeof challenge.challenge === 'string' &&
      typeof challenge.difficulty === 'number'
    ) {
      return solveProofOfWork({
        challenge: challenge.challenge,
        difficulty: challenge.difficulty,
      });
    }
    const reply = options.onChallenge
      ? await options.onChallenge(challenge, { profile })
      : undefined;
    if (reply === undefined) {
      throw new KeyvendClientError(
        'KEYVEND_CLIENT_CHALLENGE_UNANSWERED',
        options.onChallenge
          ? `Registration needs the ${challenge.type} challenge "${challenge.id}" answered; onChallenge gave no answer.`
          : `Registration needs the ${challenge.type} challenge "${challenge.id}" answered; pass onChallenge to answer it.`,
        { challenges: [challenge] },
      );
    }
    return reply;
  }

  async function vend(current: Device): Promise<KeyvendCredentials> {
    const path = '/v1/credentials';
    const reply = await withRetries(async () => {
      // RFC 9449: a key-bound token travels under the DPoP scheme, next to its proof.
      const scheme = current.keyPair === undefined ? 'Bearer' : 'DPoP';
      const headers: Record<string, string> = {
        authorization: `${scheme} ${current.registration.token}`,
      };
      if (current.keyPair !== undefined) {
        // A fresh proof per attempt: the server refuses a replayed one.
        headers.dpop = await createDpopProof({
          keyPair: current.keyPair,
          method: 'POST',
          url: baseUrl + path,
          accessToken: current.registration.token,
          now: clock(),
        });
      }
      const body = options.ttl === undefined ? {} : { ttl: options.ttl };
      return requestJson(http, { method: 'POST', path, headers, body });
    });
    return parseCredentialsReply(reply);
  }

  async function dropDevice(stale: Device): Promise<void> {
    if (device !== undefined && device !== stale) return; // already replaced
    device = undefined;
    await storage.delete(registrationKey);
    if (stale.keyPair !== undefined) await storage.delete(keyPairKey);
  }

  async function fetchCredentials(): Promise<KeyvendCredentials> {
    const current = await ensureDevice();
    try {
      return await vend(current);
    } catch (err) {
      const refusedForGood =
        isKeyvendClientError(err) &&
        (REFUSED_FOR_GOOD.has(err.code) ||
          // The profile now wants key-bound devices and this one is not: bind it.
          (err.code === 'KEYVEND_PROOF_REQUIRED' && options.keyBound === true && !current.keyPair));
      if (!refusedForGood) throw err;
      await dropDevice(current);
      return vend(await ensureDevice());
    }
  }

  async function refresh(): Promise<KeyvendCredentials> {
    const previous = cached;
    const started = generation;
    try {
      const fresh = await fetchCredentials();
      if (started === generation) {
        cached = fresh;
        nextRefreshAttempt = 0;
      }
      return fresh;
    } catch (err) {
      if (isKeyvendClientError(err) && err.code === 'KEYVEND_DEVICE_DISABLED') cached = undefined;
      const t = now();
      if (
        previous !== undefined &&
        previous === cached &&
        isKeyvendClientError(err) &&
        err.retryable &&
        previous.expiration.getTime() - t > STILL_VALID_MS
      ) {
        nextRefreshAttempt =
          t + (err.retryAfter === undefined ? REFRESH_BACKOFF_MS : err.retryAfter * 1000);
        return previous;
      }
      throw err;
    }
  }

  async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry++) {
      try {
        return await attempt();
      } catch (err) {
        if (!isKeyvendClientError(err) || !err.retryable || retry >= retries) throw err;
        const delay =
          err.retryAfter === undefined ? 250 * 2 ** retry : Math.max(0, err.retryAfter * 1000);
        if (delay > maxRetryDelayMs) throw err;
        await wait(delay);
      }
    }
  }

  return {
    register({ signal } = {}) {
      return abortable(
        ensureDevice().then((d) => ({ ...d.registration })),
        signal,
      );
    },

    credentials({ signal, forceRefresh = false } = {}) {
      const t = now();
      if (!forceRefresh && cached !== undefined) {
        const remaining = cached.expiration.getTime() - t;
        if (remaining > marginMs) return Promise.resolve(cached);
        if (t < nextRefreshAttempt && remaining > STILL_VALID_MS) return Promise.resolve(cached);
      }
      refreshing ??= refresh().finally(() => {
        refreshing = undefined;
      });
      return abortable(refreshing, signal);
    },

    async registration() {
      if (device !== undefined) return { ...device.registration };
      const found = await loadDevice();
      return found === undefined ? undefined : { ...found.registration };
    },

    async forget() {
      generation++;
      cached = undefined;
      device = undefined;
      nextRefreshAttempt = 0;
      await storage.delete(registrationKey);
      await storage.delete(keyPairKey);
    },
  };
}

function asRegistration(value: unknown): KeyvendRegistration | undefined {
  if (
    !isRecord(value) ||
    typeof value.deviceId !== 'string' ||
    typeof value.profile !== 'string' ||
    typeof value.token !== 'string' ||
    value.token === '' ||
    typeof value.tokenExpiresAt !== 'string' ||
    typeof value.keyBound !== 'boolean' ||
    typeof value.url !== 'string'
  ) {
    return undefined;
  }
  return {
    deviceId: value.deviceId,
    profile: value.profile,
    token: value.token,
    tokenExpiresAt: value.tokenExpiresAt,
    keyBound: value.keyBound,
    url: value.url,
  };
}

function isKeyPair(value: unknown): value is CryptoKeyPair {
  return isRecord(value) && isRecord(value.privateKey) && isRecord(value.publicKey);
}

function defaultFetch(): FetchLike {
  return (url, init) => {
    if (typeof globalThis.fetch !== 'function') {
      throw new KeyvendClientError(
        'KEYVEND_CLIENT_UNSUPPORTED',
        'No global fetch here: pass the fetch option.',
      );
    }
    return globalThis.fetch(url, init);
  };
}

function requireWebCrypto(): void {
  if (globalThis.crypto?.subtle === undefined) {
    throw new KeyvendClientError(
      'KEYVEND_CLIENT_UNSUPPORTED',
      'Key-bound devices need WebCrypto (crypto.subtle), which is missing here (an insecure origin?).',
    );
  }
}

function wait(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets one caller stop waiting without cancelling the shared work behind `promise`. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  const aborted = () =>
    new KeyvendClientError('KEYVEND_CLIENT_ABORTED', 'The caller aborted the request.', {
      cause: signal.reason,
    });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
