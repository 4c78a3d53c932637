/**
 * Where `keyvend/client` keeps what must survive a restart: the device's registration (its
 * token) and, for key-bound devices, its non-extractable WebCrypto key pair. Three adapters
 * ship: memory (tests, short-lived processes), Web Storage (`localStorage`: strings only, so no
 * key pairs) and IndexedDB (structured clone: holds `CryptoKey`s without exporting them). Any
 * object with async `get`/`set`/`delete` works too, e.g. a wrapper over React Native's
 * secure storage or a file.
 */
import { KeyvendClientError } from './client-error.js';

/**
 * The storage contract. Keys are short strings chosen by the client (`keyvend:<profile>:…`);
 * values are either plain JSON objects or a `CryptoKeyPair`.
 *
 * - `get` resolves to the stored value, or `undefined` when the key is absent (never throws
 *   for a missing key; a corrupt entry should also read as `undefined`).
 * - `set` replaces the value. A storage that cannot hold a value (a `CryptoKeyPair` in
 *   `localStorage`) rejects with `KEYVEND_CLIENT_STORAGE_UNSUPPORTED`.
 * - `delete` removes the key; deleting an absent key is not an error.
 */
export interface KeyvendStorage {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * Keeps values in memory only: a new registration on every start. For tests, for
 * processes that live long, and for key pairs you do not need to keep.
 *
 * @example
 * ```ts
 * const keyvend = createKeyvend({ url, profile: 'demo', storage: memoryStorage() });
 * ```
 */
export function memoryStorage(): KeyvendStorage {
  const values = new Map<string, unknown>();
  return {
    async get(key) {
      return values.get(key);
    },
    async set(key, value) {
      values.set(key, value);
    },
    async delete(key) {
      values.delete(key);
    },
  };
}

/** The part of the Web Storage API `webStorage` needs (`localStorage`, `sessionStorage`). */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Stores values as JSON in a Web Storage area such as `localStorage`. It cannot hold
 * `CryptoKey`s, so key-bound devices need `indexedDbStorage()` instead.
 *
 * @example
 * ```ts
 * const keyvend = createKeyvend({ url, profile: 'web', storage: webStorage(localStorage) });
 * ```
 */
export function webStorage(area: WebStorageLike): KeyvendStorage {
  return {
    async get(key) {
      const text = area.getItem(key);
      if (text === null) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return undefined;
      }
    },
    async set(key, value) {
      if (holdsCryptoKey(value)) {
        throw new KeyvendClientError(
          'KEYVEND_CLIENT_STORAGE_UNSUPPORTED',
          'Web Storage cannot hold a CryptoKey: use indexedDbStorage() for key-bound devices.',
        );
      }
      area.setItem(key, JSON.stringify(value));
    },
    async delete(key) {
      area.removeItem(key);
    },
  };
}

export interface IndexedDbStorageOptions {
  /** Database name (default `keyvend`). */
  database?: string;
  /** Object store name (default `keyvend`). */
  store?: string;
  /** The IndexedDB factory (default `globalThis.indexedDB`). */
  indexedDB?: IDBFactory;
}

/**
 * Stores values in IndexedDB by structured clone, so a non-extractable `CryptoKeyPair` is kept
 * as it is: the private key never leaves WebCrypto. The right storage for key-bound devices
 * in browsers.
 *
 * @example
 * ```ts
 * const keyvend = createKeyvend({
 *   url: 'https://keyvend.example.com',
 *   profile: 'web',
 *   storage: indexedDbStorage(),
 *   keyBound: true,
 * });
 * ```
 */
export function indexedDbStorage(options: IndexedDbStorageOptions = {}): KeyvendStorage {
  const databaseName = options.database ?? 'keyvend';
  const storeName = options.store ?? 'keyvend';
  let opening: Promise<IDBDatabase> | undefined;

  function open(): Promise<IDBDatabase> {
    opening ??= new Promise<IDBDatabase>((resolve, reject) => {
      const factory = options.indexedDB ?? globalThis.indexedDB;
      if (factory === undefined) {
        reject(
          new KeyvendClientError('KEYVEND_CLIENT_UNSUPPORTED', 'IndexedDB is not available here.'),
        );
        return;
      }
      const request = factory.open(databaseName, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(storeName)) {
          request.result.createObjectStore(storeName);
        }
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another tab upgrading the database: let it, and reopen on next use.
        db.onversionchange = () => {
          db.close();
          opening = undefined;
        };
        resolve(db);
      };
      request.onerror = () => reject(storageError('open', request.error));
      request.onblocked = () => reject(storageError('open (blocked by another tab)', null));
    }).catch((err: unknown) => {
      opening = undefined;
      throw err;
    });
    return opening;
  }

  async function run<T>(
    mode: IDBTransactionMode,
    action: string,
    body: (store: IDBObjectStore) => IDBRequest<T>,
  ): Promise<T> {
    const db = await open();
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const request = body(tx.objectStore(storeName));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(storageError(action, tx.error ?? request.error));
      tx.onabort = () => reject(storageError(action, tx.error));
    });
  }

  return {
    async get(key) {
      return run<unknown>('readonly', 'read', (store) => store.get(key));
    },
    async set(key, value) {
      await run('readwrite', 'write', (store) => store.put(value, key));
    },
    async delete(key) {
      await run('readwrite', 'delete', (store) => store.delete(key));
    },
  };
}

function storageError(action: string, cause: DOMException | null): KeyvendClientError {
  return new KeyvendClientError(
    'KEYVEND_CLIENT_STORAGE_UNSUPPORTED',
    `IndexedDB ${action} failed${cause ? `: ${cause.name}` : ''}.`,
    { cause },
  );
}

/** True for a `CryptoKey`, or an object (a key pair) holding one at its top level. */
function holdsCryptoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (isCryptoKey(value)) return true;
  return Object.values(value).some(isCryptoKey);
}

function isCryptoKey(value: unknown): boolean {
  const ctor = (globalThis as { CryptoKey?: abstract new () => unknown }).CryptoKey;
  return ctor !== undefined && value instanceof ctor;
}
