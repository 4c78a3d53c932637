/**
 * Validators end to end: a real keyvend (harness) with a real siteverify server and a real
 * OpenID issuer on loopback, driven over HTTP through `POST /v1/devices`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solveProofOfWork } from '../../src/client/proof-of-work.js';
import { createInvites } from '../../src/services/invites.js';
import { signAppRequest } from '../../src/validators/app-secret.js';
import type { Challenge } from '../../src/validators/validator.js';
import { DEMO_PROFILE, type Keyvend, postJson, startKeyvend } from '../support/harness.js';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.js';
import { type SiteverifyServer, startSiteverifyServer } from '../support/siteverify-server.js';

const CAPTCHA_SECRET = 'siteverify-secret-9f3a';
const APP_SECRET = 'app-secret-77c1';
let kv: Keyvend;
let sv: SiteverifyServer;
let deadSv: SiteverifyServer;
let idp: OidcIssuer;

const profile = (validators: unknown[]) => ({ ...DEMO_PROFILE, validators });
const captcha = (verifyUrl: string) => ({
  type: 'captcha',
  provider: 'turnstile',
  siteKey: '0x4AAA-site',
  secretEnv: 'CAPTCHA_SECRET',
  verifyUrl,
});

beforeAll(async () => {
  [sv, deadSv, idp] = await Promise.all([
    startSiteverifyServer({ secret: CAPTCHA_SECRET }),
    startSiteverifyServer(),
    startOidcIssuer({ audience: 'app-client' }),
  ]);
  await deadSv.stop();
  kv = await startKeyvend({
    env: { CAPTCHA_SECRET, APP_SECRET },
    config: {
      profiles: {
        human: profile([captcha(sv.url), { type: 'proof-of-work', difficulty: 8 }]),
        down: profile([captcha(deadSv.url)]),
        sso: profile([
          {
            type: 'oidc',
            issuer: idp.issuer,
            audience: 'app-client',
            claims: [{ claim: 'email_verified', equals: true }],
          },
        ]),
        beta: profile([
          { type: 'network', quota: { max: 1, windowSeconds: 3600 } },
          { type: 'invite' },
        ]),
        signed: profile([{ type: 'app-secret', secretEnv: 'APP_SECRET' }]),
      },
    },
  });
});
afterAll(async () => {
  await kv?.close();
  await Promise.all([sv?.stop(), idp?.close()]);
});

const register = (body: unknown, headers: Record<string, string> = {}) =>
  postJson(`${kv.url}/v1/devices`, body, headers);
const errorOf = (res: { body: Record<string, unknown> }) =>
  res.body.error as { code: string; message: string; challenges?: Challenge[] };

describe('registration through POST /v1/devices', () => {
  it('lists every challenge in one 401, then registers with all answers', async () => {
    const first = await register({ profile: 'human' });
    expect(first.status).toBe(401);
    expect(errorOf(first).code).toBe('KEYVEND_CHALLENGE_REQUIRED');
    const challenges = errorOf(first).challenges!;
    expect(challenges.map((c) => c.type)).toEqual(['captcha', 'proof-of-work']);
    expect(challenges[0]).toEqual({
      type: 'captcha',
      id: 'captcha',
      provider: 'turnstile',
      siteKey: '0x4AAA-site',
    });

    const pow = challenges[1]!;
    sv.accept('widget-token-1');
    const answers = {
      captcha: 'widget-token-1',
      'proof-of-work': await solveProofOfWork({
        challenge: pow.challenge as string,
        difficulty: pow.difficulty as number,
      }),
    };
    const done = await register({ profile: 'human', answers });
    expect(done.status).toBe(201);
    expect(done.body.deviceId).toEqual(expect.any(String));

    const again = await register({ profile: 'human', answers });
    expect(again.status).toBe(403);
    expect(errorOf(again).code).toBe('KEYVEND_CAPTCHA_FAILED'); // first deny in config order
    expect(kv.logs()).not.toContain(CAPTCHA_SECRET);
    expect(kv.logs()).not.toContain('widget-token-1');
  });

  it('answers 503 with a generic message when the captcha provider is down', async () => {
    const res = await register({ profile: 'down', answers: { captcha: 'tok' } });
    expect(res.status).toBe(503);
    expect(errorOf(res)).toEqual({
      code: 'KEYVEND_VALIDATOR_UNAVAILABLE',
      message: 'A registration check could not be completed; retry later.',
    });
  });

  it('gives the same device to the same OpenID identity', async () => {
    const token = () => idp.mint({ sub: 'alice', email_verified: true });
    const a = await register({ profile: 'sso', answers: { oidc: { idToken: await token() } } });
    const b = await register({ profile: 'sso', answers: { oidc: { idToken: await token() } } });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.body.deviceId).toBe(a.body.deviceId);

    const unverified = await register({
      profile: 'sso',
      answers: { oidc: { idToken: await idp.mint({ sub: 'bob', email_verified: false }) } },
    });
    expect(unverified.status).toBe(403);
    expect(errorOf(unverified).code).toBe('KEYVEND_OIDC_CLAIM_REJECTED');
  });

  it('spends an invite only when the address quota allows, and answers 429 with Retry-After', async () => {
    const [one, two] = await createInvites({
      store: kv.services.store,
      profile: 'beta',
      uses: 1,
      count: 2,
    });
    expect((await register({ profile: 'beta', answers: { invite: one } })).status).toBe(201);

    const over = await register({ profile: 'beta', answers: { invite: two } });
    expect(over.status).toBe(429);
    expect(errorOf(over).code).toBe('KEYVEND_REGISTRATION_QUOTA');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    const invites = await kv.services.store.listInvites('beta');
    expect(invites.map((i) => i.usesLeft).sort()).toEqual([0, 1]);
  });

  it('accepts an app-signed body once', async () => {
    const raw = JSON.stringify({ profile: 'signed' });
    const header = {
      'x-keyvend-app-signature': signAppRequest(APP_SECRET, raw, Math.floor(Date.now() / 1000)),
    };
    expect((await register(raw, header)).status).toBe(201);
    const replay = await register(raw, header);
    expect(replay.status).toBe(403);
    expect(errorOf(replay).code).toBe('KEYVEND_APP_SECRET_REPLAYED');
    expect((await register(raw)).status).toBe(403);
  });
});
