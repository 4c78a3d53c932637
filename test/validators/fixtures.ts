/**
 * Shared pieces for the validator unit tests: an in-memory store holding only what
 * validators use (replay markers, counters, invites), a real ES256 challenge signer with an
 * injectable clock, and a builder for validation contexts.
 */
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { ConsumeInviteResult, InviteRecord, Store } from '../../src/stores/store.js';
import type { ChallengeSigner } from '../../src/validators/challenge-signer.js';
import { answerFor } from '../../src/validators/compose.js';
import type { ValidationContext, Validator } from '../../src/validators/validator.js';

/** A store with markOnce, incrementCounter and invites; every other method throws. */
export class MemoryStore {
  readonly kind = 'memory';
  readonly markers = new Map<string, Date>();
  readonly counters = new Map<string, { windowStart: number; count: number }>();
  readonly invites = new Map<string, InviteRecord>();

  async markOnce(key: string, expiresAt: Date): Promise<boolean> {
    const now = Date.now();
    const existing = this.markers.get(key);
    if (existing && existing.getTime() > now) return false;
    this.markers.set(key, expiresAt);
    return true;
  }

  async incrementCounter(key: string, windowStart: Date): Promise<number> {
    const c = this.counters.get(key);
    if (!c || c.windowStart !== windowStart.getTime()) {
      this.counters.set(key, { windowStart: windowStart.getTime(), count: 1 });
      return 1;
    }
    c.count += 1;
    return c.count;
  }

  async createInvite(invite: InviteRecord): Promise<void> {
    if (this.invites.has(invite.codeHash)) throw new Error('duplicate codeHash');
    this.invites.set(invite.codeHash, { ...invite });
  }

  async consumeInvite(codeHash: string, profile: string, now: Date): Promise<ConsumeInviteResult> {
    const invite = this.invites.get(codeHash);
    if (!invite || invite.profile !== profile) return 'unknown';
    if (invite.expiresAt && invite.expiresAt.getTime() <= now.getTime()) return 'expired';
    if (invite.usesLeft <= 0) return 'exhausted';
    invite.usesLeft -= 1;
    return 'consumed';
  }

  async listInvites(profile?: string): Promise<InviteRecord[]> {
    return [...this.invites.values()]
      .filter((i) => profile === undefined || i.profile === profile)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  asStore(): Store {
    return new Proxy(this, {
      get(target, prop, receiver) {
        if (prop in target) return Reflect.get(target, prop, receiver);
        return () => {
          throw new Error(`MemoryStore: ${String(prop)} is not used by validators`);
        };
      },
    }) as unknown as Store;
  }
}

/** A real ES256 challenge signer; `clock` decides "now" for both signing and verifying. */
export async function createTestSigner(
  clock: () => Date = () => new Date(),
): Promise<ChallengeSigner & { signed: number }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const signer = {
    signed: 0,
    async sign(payload: Record<string, unknown>, ttlSeconds: number): Promise<string> {
      signer.signed += 1;
      const now = Math.floor(clock().getTime() / 1000);
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', typ: 'keyvend-challenge+jwt' })
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(privateKey);
    },
    async verify(token: string): Promise<Record<string, unknown>> {
      const { payload } = await jwtVerify(token, publicKey, {
        algorithms: ['ES256'],
        currentDate: clock(),
      });
      return payload as Record<string, unknown>;
    },
  };
  return signer;
}

/** A validation context with sensible defaults; `answers` fills `body.answers`. */
export function makeContext(
  store: Store,
  overrides: Partial<ValidationContext> & { answers?: Record<string, unknown> } = {},
): ValidationContext {
  const { answers, ...rest } = overrides;
  const body = rest.body ?? (answers ? { profile: 'mobile', answers } : { profile: 'mobile' });
  return {
    profile: 'mobile',
    answer: undefined,
    body,
    rawBody: JSON.stringify(body),
    headers: {},
    clientIp: '203.0.113.7',
    now: new Date(),
    store,
    ...rest,
  };
}

/** `ctxFor` for runValidators: the base context with each validator's own answer. */
export function contextsFrom(base: ValidationContext): (v: Validator) => ValidationContext {
  return (v) => ({ ...base, answer: answerFor(base.body, v.id) });
}
