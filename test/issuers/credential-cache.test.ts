import { describe, expect, it } from 'vitest';
import { KeyvendError } from '../../src/errors.js';
import { CredentialCache, credentialCacheKey } from '../../src/issuers/credential-cache.js';
import type { IssuedCredentials, IssueRequest } from '../../src/issuers/issuer.js';
import { device as makeDevice } from './fixtures.js';

const T0 = Date.UTC(2026, 0, 1);

function setup(
  options: { maxEntries?: number; minRemainingSeconds?: number; refreshShare?: number } = {},
) {
  let now = T0;
  let serial = 0;
  const cache = new CredentialCache({
    maxEntries: options.maxEntries ?? 100,
    minRemainingSeconds: options.minRemainingSeconds ?? 300,
    ...(options.refreshShare === undefined ? {} : { refreshShare: options.refreshShare }),
    clock: () => new Date(now),
  });
  /** A mint that answers at once with credentials living `seconds` from now. */
  const mint =
    (seconds = 3600) =>
    async (): Promise<IssuedCredentials> => ({
      accessKeyId: `ASIA${++serial}`,
      secretAccessKey: 's',
      sessionToken: 't',
      expiration: new Date(now + seconds * 1000),
    });
  return {
    cache,
    mint,
    advance: (s: number) => {
      now += s * 1000;
    },
  };
}

function request(over: Partial<IssueRequest> = {}, device: Partial<IssueRequest['device']> = {}) {
  return {
    profileName: 'mobile',
    profile: { issuer: { type: 'federation-token' } } as IssueRequest['profile'],
    device: makeDevice('d-1', device),
    principalName: 'kv-d-1',
    policy: '{"Version":"2012-10-17"}',
    templateName: 't.json',
    policyArns: [],
    durationSeconds: 3600,
    tags: [],
    ...over,
  } satisfies IssueRequest;
}

describe('credentialCacheKey', () => {
  it('is the device id, then a hash that changes with everything shaping the credentials', () => {
    const base = credentialCacheKey(request());
    expect(base.startsWith('d-1#')).toBe(true);
    expect(credentialCacheKey(request())).toBe(base);
    const variants = [
      request({ policy: '{"Version":"2012-10-17","Statement":[]}' }),
      request({ policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }),
      request({ tags: [{ key: 'k', value: 'v' }] }),
      request({ durationSeconds: 900 }),
      request({ profile: { issuer: { type: 'assume-role' } } as IssueRequest['profile'] }),
      request({}, { attributes: { email: 'a@b' } }),
      request({}, { userId: 'u-1' }),
    ];
    for (const v of variants) expect(credentialCacheKey(v)).not.toBe(base);
  });

  it('does not depend on the order of tags or attributes', () => {
    const a = request(
      {
        tags: [
          { key: 'a', value: '1' },
          { key: 'b', value: '2' },
        ],
      },
      { attributes: { x: '1', y: '2' } },
    );
    const b = request(
      {
        tags: [
          { key: 'b', value: '2' },
          { key: 'a', value: '1' },
        ],
      },
      { attributes: { y: '2', x: '1' } },
    );
    expect(credentialCacheKey(a)).toBe(credentialCacheKey(b));
  });
});

describe('CredentialCache', () => {
  it('serves a cached entry while it is fresh', async () => {
    const { cache, mint, advance } = setup();
    const first = await cache.get('d-1#a', mint());
    advance(60);
    expect(await cache.get('d-1#a', mint())).toBe(first);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, mints: 1 });
  });

  it('mints anew once less than minRemainingSeconds remain', async () => {
    const { cache, mint, advance } = setup({ minRemainingSeconds: 300, refreshShare: 0 });
    const first = await cache.get('d-1#a', mint(3600));
    advance(3600 - 301);
    expect(await cache.get('d-1#a', mint())).toBe(first);
    advance(2);
    const second = await cache.get('d-1#a', mint());
    expect(second).not.toBe(first);
    expect(cache.stats().mints).toBe(2);
  });

  it('mints anew once less than refreshShare of the lifetime remains', async () => {
    const { cache, mint, advance } = setup({ minRemainingSeconds: 60, refreshShare: 0.25 });
    const first = await cache.get('d-1#a', mint(3600));
    advance(2699); // 901 s left > 25 % of 3600 s
    expect(await cache.get('d-1#a', mint())).toBe(first);
    advance(2); // 899 s left
    expect(await cache.get('d-1#a', mint())).not.toBe(first);
  });

  it('does not cache credentials that are already inside the margin', async () => {
    const { cache, mint } = setup({ minRemainingSeconds: 300 });
    const first = await cache.get('d-1#a', mint(200));
    expect(await cache.get('d-1#a', mint(200))).not.toBe(first);
  });

  it('shares one in-flight mint among concurrent misses', async () => {
    const { cache } = setup();
    let calls = 0;
    let release: (c: IssuedCredentials) => void = () => {};
    const slow = () => {
      calls++;
      return new Promise<IssuedCredentials>((resolve) => (release = resolve));
    };
    const all = Promise.all(Array.from({ length: 100 }, () => cache.get('d-1#a', slow)));
    const creds = {
      accessKeyId: 'A',
      secretAccessKey: 's',
      sessionToken: 't',
      expiration: new Date(T0 + 3_600_000),
    };
    release(creds);
    const results = await all;
    expect(calls).toBe(1);
    expect(results.every((r) => r === creds)).toBe(true);
    expect(cache.stats()).toMatchObject({ mints: 1, inflightJoins: 99, misses: 100 });
  });

  it('does not cache a failed mint: the next request tries again', async () => {
    const { cache, mint } = setup();
    await expect(
      cache.get('d-1#a', async () => {
        throw new KeyvendError('KEYVEND_STS_UNAVAILABLE');
      }),
    ).rejects.toMatchObject({ code: 'KEYVEND_STS_UNAVAILABLE' });
    const creds = await cache.get('d-1#a', mint());
    expect(creds.accessKeyId).toMatch(/^ASIA/);
    expect(cache.stats()).toMatchObject({ mintFailures: 1, mints: 2 });
  });

  it('serves a still-valid entry inside the refresh window while STS is failing', async () => {
    const { cache, mint, advance } = setup({ minRemainingSeconds: 300, refreshShare: 0 });
    const first = await cache.get('d-1#a', mint(3600));
    advance(3400); // 200 s left: normally a refresh
    const down = async (): Promise<IssuedCredentials> => {
      throw new KeyvendError('KEYVEND_STS_UNAVAILABLE');
    };
    expect(await cache.get('d-1#a', down)).toBe(first);
    expect(cache.stats().staleServed).toBe(1);
    advance(150); // 50 s left: below the outage floor (60 s)
    await expect(cache.get('d-1#a', down)).rejects.toMatchObject({
      code: 'KEYVEND_STS_UNAVAILABLE',
    });
  });

  it('does not hide a caller mistake behind a stale entry', async () => {
    const { cache, mint, advance } = setup({ minRemainingSeconds: 300, refreshShare: 0 });
    await cache.get('d-1#a', mint(3600));
    advance(3400);
    await expect(
      cache.get('d-1#a', async () => {
        throw new KeyvendError('KEYVEND_SESSION_TAGS_INVALID');
      }),
    ).rejects.toMatchObject({ code: 'KEYVEND_SESSION_TAGS_INVALID' });
  });

  it('holds at most maxEntries devices, dropping the least recently used', async () => {
    const { cache, mint } = setup({ maxEntries: 2 });
    const one = await cache.get('d-1#a', mint());
    await cache.get('d-2#a', mint());
    await cache.get('d-1#a', mint()); // d-1 is now the younger
    await cache.get('d-3#a', mint()); // evicts d-2
    expect(cache.stats().devices).toBe(2);
    expect(await cache.get('d-1#a', mint())).toBe(one);
    await cache.get('d-2#a', mint());
    expect(cache.stats().mints).toBe(4);
  });

  it('caches nothing with maxEntries 0 but still shares in-flight mints', async () => {
    const { cache, mint } = setup({ maxEntries: 0 });
    const [a, b] = await Promise.all([cache.get('d-1#a', mint()), cache.get('d-1#a', mint())]);
    expect(a).toBe(b);
    expect(await cache.get('d-1#a', mint())).not.toBe(a);
    expect(cache.stats()).toMatchObject({ mints: 2, hits: 0, devices: 0 });
  });

  it('invalidateDevice drops every variant of that device and only that device', async () => {
    const { cache, mint } = setup();
    const a = await cache.get('d-1#a', mint());
    const b = await cache.get('d-1#b', mint());
    const other = await cache.get('d-2#a', mint());
    cache.invalidateDevice('d-1');
    expect(await cache.get('d-1#a', mint())).not.toBe(a);
    expect(await cache.get('d-1#b', mint())).not.toBe(b);
    expect(await cache.get('d-2#a', mint())).toBe(other);
  });
});

describe('CredentialCache invalidation during a mint', () => {
  it('answers the waiters of a mint running when the device is invalidated, but caches nothing', async () => {
    const { cache, mint } = setup();
    let release: (c: IssuedCredentials) => void = () => {};
    const running = cache.get(
      'd-1#a',
      () => new Promise<IssuedCredentials>((resolve) => (release = resolve)),
    );
    cache.invalidateDevice('d-1');
    const creds = {
      accessKeyId: 'OLD',
      secretAccessKey: 's',
      sessionToken: 't',
      expiration: new Date(T0 + 3_600_000),
    };
    release(creds);
    expect(await running).toBe(creds);
    expect((await cache.get('d-1#a', mint())).accessKeyId).not.toBe('OLD');
  });
});
