/**
 * The one contract suite every `Store` backend runs (SQLite now, PostgreSQL later): each
 * method's documented semantics from `src/stores/store.ts`, checked from the outside.
 * A backend's test file calls `runStoreContract('sqlite', (opts) => SqliteStore.open(…))`.
 *
 * `open` receives a clock; the backend must use it wherever it needs "now" on its own
 * (marker expiry), so expiry is tested without sleeping. Each test opens a fresh, empty store.
 */
import type { JWK } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyvendError } from '../../src/errors.js';
import { newDeviceId } from '../../src/stores/ids.js';
import {
  DuplicateError,
  type InviteRecord,
  type SigningKeyRecord,
  type Store,
} from '../../src/stores/store.js';

export type OpenStore = (opts: { clock: () => Date }) => Promise<Store>;

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const MINUTE = 60_000;

const PUBLIC_JWK: JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

function signingKey(
  kid: string,
  createdAt: number,
  use: SigningKeyRecord['use'] = 'registration',
): SigningKeyRecord {
  return {
    kid,
    use,
    alg: 'ES256',
    privateJwk: { ...PUBLIC_JWK, d: `private-${kid}` },
    publicJwk: { ...PUBLIC_JWK },
    createdAt: new Date(createdAt),
    retiredAt: null,
  };
}

function invite(codeHash: string, overrides: Partial<InviteRecord> = {}): InviteRecord {
  return {
    codeHash,
    profile: 'mobile',
    usesTotal: 1,
    usesLeft: 1,
    expiresAt: null,
    createdAt: new Date(T0),
    ...overrides,
  };
}

/** Registers the contract suite for one backend under `describe(\`Store contract: ${name}\`)`. */
export function runStoreContract(name: string, open: OpenStore): void {
  describe(`Store contract: ${name}`, () => {
    let now = T0;
    let store: Store;

    beforeEach(async () => {
      now = T0;
      store = await open({ clock: () => new Date(now) });
    });

    afterEach(async () => {
      await store.close();
    });

    describe('devices', () => {
      it('stores a new device as active with empty defaults', async () => {
        const id = newDeviceId();
        const created = await store.createDevice({
          id,
          profile: 'mobile',
          createdAt: new Date(T0),
        });
        const expected = {
          id,
          profile: 'mobile',
          status: 'active',
          publicKey: null,
          keyThumbprint: null,
          externalId: null,
          userId: null,
          attributes: {},
          createdAt: new Date(T0),
          lastSeenAt: null,
          disabledAt: null,
          version: 1,
        };
        expect(created).toEqual(expected);
        expect(await store.getDevice(id)).toEqual(expected);
      });

      it('round-trips the public key, thumbprint, external id and attributes', async () => {
        const id = newDeviceId();
        await store.createDevice({
          id,
          profile: 'mobile',
          publicKey: PUBLIC_JWK,
          keyThumbprint: 'thumb-1',
          externalId: 'oidc:https://issuer#alice',
          attributes: { team: 'blue', ünï: 'cödé' },
          createdAt: new Date(T0),
        });
        const got = await store.getDevice(id);
        expect(got?.publicKey).toEqual(PUBLIC_JWK);
        expect(got?.keyThumbprint).toBe('thumb-1');
        expect(got?.externalId).toBe('oidc:https://issuer#alice');
        expect(got?.attributes).toEqual({ team: 'blue', ünï: 'cödé' });
      });

      it('answers null for a device that does not exist', async () => {
        expect(await store.getDevice(newDeviceId())).toBeNull();
      });

      it('refuses a second device with the same id', async () => {
        const id = newDeviceId();
        await store.createDevice({ id, profile: 'mobile', createdAt: new Date(T0) });
        const error = await rejection(
          store.createDevice({ id, profile: 'desktop', createdAt: new Date(T0) }),
        );
        expect(error).toBeInstanceOf(DuplicateError);
        expect((error as DuplicateError).field).toBe('id');
        expect((await store.getDevice(id))?.profile).toBe('mobile');
      });

      it('refuses a second device with the same external id in one profile only', async () => {
        const externalId = 'oidc:https://issuer#bob';
        const first = newDeviceId();
        await store.createDevice({
          id: first,
          profile: 'mobile',
          externalId,
          createdAt: new Date(T0),
        });
        const error = await rejection(
          store.createDevice({
            id: newDeviceId(),
            profile: 'mobile',
            externalId,
            createdAt: new Date(T0),
          }),
        );
        expect(error).toBeInstanceOf(DuplicateError);
        expect((error as DuplicateError).field).toBe('externalId');

        const other = newDeviceId();
        await store.createDevice({
          id: other,
          profile: 'desktop',
          externalId,
          createdAt: new Date(T0),
        });
        expect((await store.findDeviceByExternalId('mobile', externalId))?.id).toBe(first);
        expect((await store.findDeviceByExternalId('desktop', externalId))?.id).toBe(other);
        expect(await store.findDeviceByExternalId('iot', externalId)).toBeNull();
        expect(await store.findDeviceByExternalId('mobile', 'oidc:nobody')).toBeNull();
      });

      it('allows any number of devices without an external id', async () => {
        for (let i = 0; i < 3; i++) {
          await store.createDevice({
            id: newDeviceId(),
            profile: 'mobile',
            createdAt: new Date(T0),
          });
        }
        expect(await store.countDevices({ profile: 'mobile' })).toBe(3);
      });

      it('disables a device with a time and re-enables it clearing that time', async () => {
        const id = newDeviceId();
        await store.createDevice({ id, profile: 'mobile', createdAt: new Date(T0) });
        const disabled = await store.setDeviceStatus(id, 'disabled', new Date(T0 + MINUTE));
        expect(disabled?.status).toBe('disabled');
        expect(disabled?.disabledAt).toEqual(new Date(T0 + MINUTE));
        expect((await store.getDevice(id))?.status).toBe('disabled');

        const enabled = await store.setDeviceStatus(id, 'active', new Date(T0 + 2 * MINUTE));
        expect(enabled?.status).toBe('active');
        expect(enabled?.disabledAt).toBeNull();
        expect(await store.getDevice(id)).toEqual(enabled);
      });

      it('answers null when changing the status of a device that does not exist', async () => {
        expect(await store.setDeviceStatus(newDeviceId(), 'disabled', new Date(T0))).toBeNull();
      });

      it('records when a device was last seen, only ever moving forward', async () => {
        const id = newDeviceId();
        await store.createDevice({ id, profile: 'mobile', createdAt: new Date(T0) });
        await store.touchDevice(id, new Date(T0 + 5 * MINUTE));
        expect((await store.getDevice(id))?.lastSeenAt).toEqual(new Date(T0 + 5 * MINUTE));
        await store.touchDevice(id, new Date(T0 + 2 * MINUTE));
        expect((await store.getDevice(id))?.lastSeenAt).toEqual(new Date(T0 + 5 * MINUTE));
        await store.touchDevice(id, new Date(T0 + 9 * MINUTE));
        expect((await store.getDevice(id))?.lastSeenAt).toEqual(new Date(T0 + 9 * MINUTE));
      });

      it('ignores a touch of a device that does not exist', async () => {
        await expect(store.touchDevice(newDeviceId(), new Date(T0))).resolves.toBeUndefined();
        expect(await store.countDevices()).toBe(0);
      });

      it('pages through devices oldest first, ties broken by id, without gaps or repeats', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 25; i++) {
          const id = newDeviceId();
          ids.push(id);
          // pairs share a creation time, so the cursor must also order by id
          await store.createDevice({
            id,
            profile: 'mobile',
            createdAt: new Date(T0 + Math.floor(i / 2)),
          });
        }
        const expected = ids
          .map((id, i) => ({ id, t: Math.floor(i / 2) }))
          .sort((a, b) => a.t - b.t || (a.id < b.id ? -1 : 1))
          .map((d) => d.id);

        const seen: string[] = [];
        const sizes: number[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listDevices(cursor ? { limit: 10, cursor } : { limit: 10 });
          sizes.push(page.items.length);
          seen.push(...page.items.map((d) => d.id));
          cursor = page.nextCursor;
        } while (cursor);
        expect(sizes).toEqual([10, 10, 5]);
        expect(seen).toEqual(expected);
      });

      it('gives no next cursor when a page ends exactly at the last device', async () => {
        for (let i = 0; i < 4; i++) {
          await store.createDevice({
            id: newDeviceId(),
            profile: 'mobile',
            createdAt: new Date(T0 + i),
          });
        }
        const first = await store.listDevices({ limit: 2 });
        expect(first.nextCursor).toBeDefined();
        const second = await store.listDevices({ limit: 2, cursor: first.nextCursor! });
        expect(second.items).toHaveLength(2);
        expect(second.nextCursor).toBeUndefined();
        expect(await store.listDevices({ limit: 2, cursor: first.nextCursor! })).toEqual(second);
      });

      it('filters listing and counting by profile and status', async () => {
        const made: { id: string; profile: string; disabled: boolean }[] = [];
        for (let i = 0; i < 12; i++) {
          const id = newDeviceId();
          const profile = i % 3 === 0 ? 'desktop' : 'mobile';
          await store.createDevice({ id, profile, createdAt: new Date(T0 + i) });
          const disabled = i % 2 === 0;
          if (disabled) await store.setDeviceStatus(id, 'disabled', new Date(T0 + 100));
          made.push({ id, profile, disabled });
        }
        const want = made.filter((d) => d.profile === 'mobile' && !d.disabled).map((d) => d.id);
        const got: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listDevices({
            profile: 'mobile',
            status: 'active',
            limit: 2,
            ...(cursor ? { cursor } : {}),
          });
          got.push(...page.items.map((d) => d.id));
          for (const d of page.items) expect([d.profile, d.status]).toEqual(['mobile', 'active']);
          cursor = page.nextCursor;
        } while (cursor);
        expect(got).toEqual(want);

        expect(await store.countDevices()).toBe(12);
        expect(await store.countDevices({ profile: 'desktop' })).toBe(4);
        expect(await store.countDevices({ status: 'disabled' })).toBe(6);
        expect(await store.countDevices({ profile: 'mobile', status: 'active' })).toBe(want.length);
        expect(await store.countDevices({ profile: 'nobody' })).toBe(0);
      });

      it('lists 100 devices per page by default', async () => {
        for (let i = 0; i < 101; i++) {
          await store.createDevice({
            id: newDeviceId(),
            profile: 'mobile',
            createdAt: new Date(T0 + i),
          });
        }
        const page = await store.listDevices();
        expect(page.items).toHaveLength(100);
        expect(page.nextCursor).toBeDefined();
      });

      it('refuses a cursor it did not issue with a 400', async () => {
        for (const cursor of [
          'not-a-cursor',
          '',
          'W10',
          Buffer.from('[1,2]').toString('base64url'),
        ]) {
          const error = await rejection(store.listDevices({ cursor }));
          expect(error).toBeInstanceOf(KeyvendError);
          expect((error as KeyvendError).statusCode).toBe(400);
        }
      });
    });

    describe('signing keys', () => {
      it('has no keys at first', async () => {
        expect(await store.listSigningKeys('registration')).toEqual([]);
      });

      it('makes a rotated-in key current and retires the previous one, newest first', async () => {
        await store.rotateSigningKey(signingKey('k1', T0), new Date(T0));
        await store.rotateSigningKey(signingKey('k2', T0 + MINUTE), new Date(T0 + MINUTE));
        const keys = await store.listSigningKeys('registration');
        expect(keys.map((k) => [k.kid, k.retiredAt])).toEqual([
          ['k2', null],
          ['k1', new Date(T0 + MINUTE)],
        ]);
        expect(keys[0]).toEqual(signingKey('k2', T0 + MINUTE));
      });

      it('keeps registration and oidc keys apart', async () => {
        await store.rotateSigningKey(signingKey('reg', T0), new Date(T0));
        await store.rotateSigningKey(signingKey('oidc', T0 + 1, 'oidc'), new Date(T0 + 1));
        expect(
          (await store.listSigningKeys('registration')).map((k) => [k.kid, k.retiredAt]),
        ).toEqual([['reg', null]]);
        expect((await store.listSigningKeys('oidc')).map((k) => k.kid)).toEqual(['oidc']);
      });

      it('leaves the current key untouched when a rotation fails on a kid collision', async () => {
        await store.rotateSigningKey(signingKey('k1', T0), new Date(T0));
        await store.rotateSigningKey(signingKey('k2', T0 + 1), new Date(T0 + 1));
        const error = await rejection(
          store.rotateSigningKey(signingKey('k1', T0 + 2), new Date(T0 + 2)),
        );
        expect(error).toBeInstanceOf(DuplicateError);
        expect((error as DuplicateError).field).toBe('kid');
        expect(
          (await store.listSigningKeys('registration')).map((k) => [k.kid, k.retiredAt]),
        ).toEqual([
          ['k2', null],
          ['k1', new Date(T0 + 1)],
        ]);
      });

      it('leaves exactly one current key when rotations race', async () => {
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.rotateSigningKey(signingKey(`k${i}`, T0 + i), new Date(T0 + 100)),
          ),
        );
        const keys = await store.listSigningKeys('registration');
        expect(keys).toHaveLength(10);
        expect(keys.filter((k) => k.retiredAt === null)).toHaveLength(1);
      });

      it('deletes only keys of that use retired before the cut-off', async () => {
        await store.rotateSigningKey(signingKey('a', T0), new Date(T0));
        await store.rotateSigningKey(signingKey('b', T0 + 1), new Date(T0 + 10 * MINUTE));
        await store.rotateSigningKey(signingKey('c', T0 + 2), new Date(T0 + 20 * MINUTE));
        await store.rotateSigningKey(signingKey('o1', T0, 'oidc'), new Date(T0));
        await store.rotateSigningKey(signingKey('o2', T0 + 1, 'oidc'), new Date(T0 + MINUTE));
        // a retired at +10 min, b retired at +20 min, c current
        expect(
          await store.deleteRetiredSigningKeys('registration', new Date(T0 + 15 * MINUTE)),
        ).toBe(1);
        expect((await store.listSigningKeys('registration')).map((k) => k.kid)).toEqual(['c', 'b']);
        expect(
          await store.deleteRetiredSigningKeys('registration', new Date(T0 + 999 * MINUTE)),
        ).toBe(1);
        expect((await store.listSigningKeys('registration')).map((k) => k.kid)).toEqual(['c']);
        expect((await store.listSigningKeys('oidc')).map((k) => k.kid)).toEqual(['o2', 'o1']);
      });
    });

    describe('markOnce', () => {
      it('says true once, false while held, and true again after expiry', async () => {
        const expiresAt = new Date(T0 + MINUTE);
        expect(await store.markOnce('dpop:jkt:1', expiresAt)).toBe(true);
        expect(await store.markOnce('dpop:jkt:1', expiresAt)).toBe(false);
        now = T0 + MINUTE - 1;
        expect(await store.markOnce('dpop:jkt:1', new Date(T0 + 5 * MINUTE))).toBe(false);
        now = T0 + MINUTE;
        expect(await store.markOnce('dpop:jkt:1', new Date(T0 + 2 * MINUTE))).toBe(true);
        expect(await store.markOnce('dpop:jkt:1', new Date(T0 + 2 * MINUTE))).toBe(false);
      });

      it('keeps distinct keys apart', async () => {
        const expiresAt = new Date(T0 + MINUTE);
        expect(await store.markOnce('a', expiresAt)).toBe(true);
        expect(await store.markOnce('b', expiresAt)).toBe(true);
        expect(await store.markOnce('a', expiresAt)).toBe(false);
      });

      it('gives exactly one true to concurrent calls with one key', async () => {
        const results = await Promise.all(
          Array.from({ length: 50 }, () => store.markOnce('race', new Date(T0 + MINUTE))),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('counters', () => {
      it('counts within a window and restarts when the window moves on', async () => {
        const w1 = new Date(T0);
        const w2 = new Date(T0 + MINUTE);
        const expiry = (w: Date) => new Date(w.getTime() + MINUTE);
        expect(await store.incrementCounter('reg:1.2.3.4', w1, expiry(w1))).toBe(1);
        expect(await store.incrementCounter('reg:1.2.3.4', w1, expiry(w1))).toBe(2);
        expect(await store.incrementCounter('reg:5.6.7.8', w1, expiry(w1))).toBe(1);
        expect(await store.incrementCounter('reg:1.2.3.4', w1, expiry(w1))).toBe(3);
        expect(await store.incrementCounter('reg:1.2.3.4', w2, expiry(w2))).toBe(1);
        expect(await store.incrementCounter('reg:1.2.3.4', w2, expiry(w2))).toBe(2);
      });

      it('counts a late call for an older window into the newer one', async () => {
        const w1 = new Date(T0);
        const w2 = new Date(T0 + MINUTE);
        await store.incrementCounter('k', w2, new Date(T0 + 2 * MINUTE));
        await store.incrementCounter('k', w2, new Date(T0 + 2 * MINUTE));
        expect(await store.incrementCounter('k', w1, new Date(T0 + MINUTE))).toBe(3);
        expect(await store.incrementCounter('k', w2, new Date(T0 + 2 * MINUTE))).toBe(4);
      });

      it('hands each of 50 concurrent increments a distinct count', async () => {
        const counts = await Promise.all(
          Array.from({ length: 50 }, () =>
            store.incrementCounter('burst', new Date(T0), new Date(T0 + MINUTE)),
          ),
        );
        expect([...counts].sort((a, b) => a - b)).toEqual(
          Array.from({ length: 50 }, (_, i) => i + 1),
        );
      });
    });

    describe('invites', () => {
      it('takes uses one at a time until exhausted', async () => {
        await store.createInvite(invite('h1', { usesTotal: 3, usesLeft: 3 }));
        const at = new Date(T0);
        expect(await store.consumeInvite('h1', 'mobile', at)).toBe('consumed');
        expect(await store.consumeInvite('h1', 'mobile', at)).toBe('consumed');
        expect((await store.listInvites())[0]?.usesLeft).toBe(1);
        expect(await store.consumeInvite('h1', 'mobile', at)).toBe('consumed');
        expect(await store.consumeInvite('h1', 'mobile', at)).toBe('exhausted');
        expect((await store.listInvites())[0]?.usesLeft).toBe(0);
      });

      it('does not know a code of another profile, or no code at all', async () => {
        await store.createInvite(invite('h1'));
        expect(await store.consumeInvite('h1', 'desktop', new Date(T0))).toBe('unknown');
        expect(await store.consumeInvite('nope', 'mobile', new Date(T0))).toBe('unknown');
        expect((await store.listInvites())[0]?.usesLeft).toBe(1);
      });

      it('refuses an invite from its expiry time on, without taking a use', async () => {
        await store.createInvite(
          invite('h1', { usesTotal: 2, usesLeft: 2, expiresAt: new Date(T0 + MINUTE) }),
        );
        expect(await store.consumeInvite('h1', 'mobile', new Date(T0 + MINUTE - 1))).toBe(
          'consumed',
        );
        expect(await store.consumeInvite('h1', 'mobile', new Date(T0 + MINUTE))).toBe('expired');
        expect((await store.listInvites())[0]?.usesLeft).toBe(1);
      });

      it('gives exactly one of 50 concurrent consumers of a 1-use invite the use', async () => {
        await store.createInvite(invite('once'));
        const results = await Promise.all(
          Array.from({ length: 50 }, () => store.consumeInvite('once', 'mobile', new Date(T0))),
        );
        expect(results.filter((r) => r === 'consumed')).toHaveLength(1);
        expect(results.filter((r) => r === 'exhausted')).toHaveLength(49);
      });

      it('refuses a second invite with the same hash', async () => {
        await store.createInvite(invite('h1'));
        const error = await rejection(store.createInvite(invite('h1', { profile: 'desktop' })));
        expect(error).toBeInstanceOf(DuplicateError);
        expect((error as DuplicateError).field).toBe('codeHash');
      });

      it('lists invites newest first, optionally of one profile', async () => {
        await store.createInvite(invite('old', { createdAt: new Date(T0) }));
        await store.createInvite(invite('new', { createdAt: new Date(T0 + MINUTE) }));
        await store.createInvite(
          invite('desk', { profile: 'desktop', createdAt: new Date(T0 + 2 * MINUTE) }),
        );
        expect((await store.listInvites()).map((i) => i.codeHash)).toEqual(['desk', 'new', 'old']);
        expect(await store.listInvites('mobile')).toEqual([
          invite('new', { createdAt: new Date(T0 + MINUTE) }),
          invite('old', { createdAt: new Date(T0) }),
        ]);
        expect(await store.listInvites('iot')).toEqual([]);
      });
    });

    describe('lifecycle', () => {
      it('answers a ping while open and fails every call once closed', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        await store.close();
        await store.close();
        await expect(store.ping()).rejects.toThrow();
        await expect(store.getDevice(newDeviceId())).rejects.toThrow();
        await expect(store.markOnce('x', new Date(T0 + MINUTE))).rejects.toThrow();
      });
    });
  });
}
