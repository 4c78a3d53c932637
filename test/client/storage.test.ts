/**
 * The storage adapters that run in Node: memory and Web Storage (over a Map-backed area with
 * the Web Storage API). IndexedDB runs in a real browser in `browser.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, type WebStorageLike, webStorage } from '../../src/client/index.js';

function area(): WebStorageLike & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => {
      items.set(k, v);
    },
    removeItem: (k) => {
      items.delete(k);
    },
  };
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
}

describe('memoryStorage', () => {
  it('keeps values, including a non-extractable key pair, until deleted', async () => {
    const storage = memoryStorage();
    const keys = await keyPair();
    await storage.set('a', { token: 't' });
    await storage.set('k', keys);
    expect(await storage.get('a')).toEqual({ token: 't' });
    expect(await storage.get('k')).toBe(keys);
    await storage.delete('a');
    await storage.delete('missing');
    expect(await storage.get('a')).toBeUndefined();
  });
});

describe('webStorage', () => {
  it('stores JSON under the given key and reads it back', async () => {
    const a = area();
    const storage = webStorage(a);
    await storage.set('keyvend:demo:registration', { deviceId: 'd-1', keyBound: false });
    expect(a.items.get('keyvend:demo:registration')).toBe('{"deviceId":"d-1","keyBound":false}');
    expect(await storage.get('keyvend:demo:registration')).toEqual({
      deviceId: 'd-1',
      keyBound: false,
    });
    await storage.delete('keyvend:demo:registration');
    expect(a.items.size).toBe(0);
  });

  it('reads a missing or corrupt entry as absent', async () => {
    const a = area();
    a.items.set('bad', '{not json');
    const storage = webStorage(a);
    expect(await storage.get('bad')).toBeUndefined();
    expect(await storage.get('none')).toBeUndefined();
  });

  it('refuses a CryptoKey pair instead of silently storing "{}"', async () => {
    const a = area();
    await expect(webStorage(a).set('k', await keyPair())).rejects.toMatchObject({
      code: 'KEYVEND_CLIENT_STORAGE_UNSUPPORTED',
    });
    expect(a.items.size).toBe(0);
  });
});
