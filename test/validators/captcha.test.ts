import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptchaValidatorConfig } from '../../src/config/validator-schemas.js';
import { isKeyvendError, type KeyvendError } from '../../src/errors.js';
import type { Store } from '../../src/stores/store.js';
import { CaptchaValidator, SITEVERIFY_URLS } from '../../src/validators/captcha.js';
import type { ValidationResult } from '../../src/validators/validator.js';
import { type SiteverifyServer, startSiteverifyServer } from '../support/siteverify-server.js';
import { makeContext, openTestStore } from './fixtures.js';

const SECRET = 'sv-secret-do-not-leak';
let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store.close());
let sv: SiteverifyServer;

function config(extra: Partial<CaptchaValidatorConfig> = {}): CaptchaValidatorConfig {
  const c = {
    type: 'captcha' as const,
    provider: 'turnstile' as const,
    siteKey: '0x4AAAA-site',
    secretEnv: 'CAPTCHA_SECRET',
    verifyUrl: sv.url,
    timeoutMs: 2000,
    ...extra,
  };
  Object.defineProperty(c, 'secret', { value: SECRET, enumerable: false });
  return c as CaptchaValidatorConfig;
}

function denied(result: ValidationResult): KeyvendError {
  if (result.outcome !== 'deny') throw new Error(`expected deny, got ${result.outcome}`);
  return result.error;
}

async function unavailable(p: Promise<unknown>): Promise<KeyvendError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isKeyvendError(err)) throw new Error(`expected a KeyvendError, got ${String(err)}`);
  expect(err.code).toBe('KEYVEND_VALIDATOR_UNAVAILABLE');
  expect(err.statusCode).toBe(503);
  return err;
}

beforeAll(async () => {
  sv = await startSiteverifyServer({ secret: SECRET });
});
afterAll(async () => {
  await sv.stop();
});

describe('captcha validator', () => {
  it('asks for a captcha naming the provider and site key when there is no answer', async () => {
    const v = new CaptchaValidator(config({ id: 'human', expectedAction: 'register' }));
    const result = await v.validate(makeContext(store));
    expect(result).toEqual({
      outcome: 'challenge',
      challenges: [
        {
          type: 'captcha',
          id: 'human',
          provider: 'turnstile',
          siteKey: '0x4AAAA-site',
          action: 'register',
        },
      ],
    });
  });

  it('passes a token the provider accepts, sending secret, response and remoteip as a form', async () => {
    sv.accept('tok-good');
    const before = sv.requests.length;
    const result = await new CaptchaValidator(config()).validate(
      makeContext(store, { answer: 'tok-good', clientIp: '198.51.100.4' }),
    );
    expect(result).toEqual({ outcome: 'pass' });
    const req = sv.requests[before]!;
    expect(req.method).toBe('POST');
    expect(req.contentType).toBe('application/x-www-form-urlencoded');
    expect(req.form).toEqual({ secret: SECRET, response: 'tok-good', remoteip: '198.51.100.4' });
  });

  it('refuses a rejected token with the provider error codes and never echoes secret or token', async () => {
    sv.reject('tok-bad', ['invalid-input-response', '<script>']);
    const err = denied(
      await new CaptchaValidator(config()).validate(makeContext(store, { answer: 'tok-bad' })),
    );
    expect(err.code).toBe('KEYVEND_CAPTCHA_FAILED');
    expect(err.statusCode).toBe(403);
    expect(err.details).toMatchObject({
      reason: 'rejected',
      errorCodes: ['invalid-input-response'],
    });
    const shown = JSON.stringify({ message: err.message, details: err.details });
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain('tok-bad');
  });

  it('refuses a token replayed after it passed once', async () => {
    sv.accept('tok-once');
    const v = new CaptchaValidator(config());
    expect((await v.validate(makeContext(store, { answer: 'tok-once' }))).outcome).toBe('pass');
    const err = denied(await v.validate(makeContext(store, { answer: 'tok-once' })));
    expect(err.details?.errorCodes).toEqual(['timeout-or-duplicate']);
  });

  it.each([
    ['a number', 42],
    ['an empty string', ''],
    ['an object', { token: 'x' }],
    ['a string over 4096 characters', 'x'.repeat(4097)],
  ])('refuses %s as answer without calling the provider', async (_name, answer) => {
    const before = sv.requests.length;
    const err = denied(
      await new CaptchaValidator(config()).validate(makeContext(store, { answer })),
    );
    expect(err.code).toBe('KEYVEND_CAPTCHA_FAILED');
    expect(err.details?.reason).toBe('answer-malformed');
    expect(sv.requests.length).toBe(before);
  });

  describe('reCAPTCHA v3 rules', () => {
    const v3 = () =>
      new CaptchaValidator(
        config({
          provider: 'recaptcha',
          minScore: 0.5,
          expectedAction: 'register',
          expectedHostname: 'app.example',
        }),
      );

    it('passes a score at the threshold with the expected action and hostname', async () => {
      sv.accept('v3-ok', { score: 0.5, action: 'register' });
      expect(await v3().validate(makeContext(store, { answer: 'v3-ok' }))).toEqual({
        outcome: 'pass',
      });
    });

    it('refuses a score below minScore', async () => {
      sv.accept('v3-low', { score: 0.3, action: 'register' });
      expect(
        denied(await v3().validate(makeContext(store, { answer: 'v3-low' }))).details?.reason,
      ).toBe('score-too-low');
    });

    it('refuses a reply without a score when minScore is set', async () => {
      sv.accept('v3-noscore', { action: 'register' });
      expect(
        denied(await v3().validate(makeContext(store, { answer: 'v3-noscore' }))).details?.reason,
      ).toBe('score-too-low');
    });

    it('refuses a token solved for another action', async () => {
      sv.accept('v3-action', { score: 0.9, action: 'login' });
      expect(
        denied(await v3().validate(makeContext(store, { answer: 'v3-action' }))).details?.reason,
      ).toBe('action-mismatch');
    });

    it('refuses a token solved on another hostname', async () => {
      sv.accept('v3-host', { score: 0.9, action: 'register', hostname: 'evil.example' });
      expect(
        denied(await v3().validate(makeContext(store, { answer: 'v3-host' }))).details?.reason,
      ).toBe('hostname-mismatch');
    });
  });

  describe('when the provider fails', () => {
    it('throws 503 on a 5xx answer', async () => {
      sv.reply('tok-500', { status: 502, raw: 'bad gateway' });
      await unavailable(
        new CaptchaValidator(config()).validate(makeContext(store, { answer: 'tok-500' })),
      );
    });

    it('throws 503 on a reply that is not JSON', async () => {
      sv.reply('tok-html', { raw: '<html>maintenance</html>' });
      const err = await unavailable(
        new CaptchaValidator(config()).validate(makeContext(store, { answer: 'tok-html' })),
      );
      expect((err.cause as Error).cause).toBeInstanceOf(SyntaxError);
    });

    it('throws 503 on JSON without a boolean success', async () => {
      sv.reply('tok-weird', { body: { ok: true } });
      await unavailable(
        new CaptchaValidator(config()).validate(makeContext(store, { answer: 'tok-weird' })),
      );
    });

    it('throws 503 when the provider does not answer within timeoutMs', async () => {
      sv.reply('tok-slow', { delayMs: 1500 });
      const err = await unavailable(
        new CaptchaValidator(config({ timeoutMs: 100 })).validate(
          makeContext(store, { answer: 'tok-slow' }),
        ),
      );
      expect(err.message).toBe('A registration check could not be completed; retry later.');
      expect((err.cause as Error).message).toContain('within 100 ms');
      expect((err.cause as Error).message).not.toContain('tok-slow');
    });

    it('throws 503 keeping the cause when the provider is down', async () => {
      const down = await startSiteverifyServer();
      await down.stop();
      const err = await unavailable(
        new CaptchaValidator(config({ verifyUrl: down.url })).validate(
          makeContext(store, { answer: 'tok' }),
        ),
      );
      expect((err.cause as Error).cause).toBeDefined();
      expect((err.cause as Error).message).not.toContain(SECRET);
    });
  });

  it.each([
    ['recaptcha', 'https://www.google.com/recaptcha/api/siteverify'],
    ['hcaptcha', 'https://api.hcaptcha.com/siteverify'],
    ['turnstile', 'https://challenges.cloudflare.com/turnstile/v0/siteverify'],
  ] as const)('calls the %s siteverify URL when verifyUrl is not set', async (provider, url) => {
    const called: string[] = [];
    const fetchStub: typeof fetch = async (input) => {
      called.push(String(input));
      return new Response(JSON.stringify({ success: true }), { status: 200 });
    };
    const { verifyUrl: _omit, ...rest } = config({ provider });
    Object.defineProperty(rest, 'secret', { value: SECRET, enumerable: false });
    const v = new CaptchaValidator(rest as CaptchaValidatorConfig, { fetch: fetchStub });
    expect(await v.validate(makeContext(store, { answer: 'tok' }))).toEqual({ outcome: 'pass' });
    expect(called).toEqual([url]);
    expect(SITEVERIFY_URLS[provider]).toBe(url);
  });

  it('refuses to start without a resolved secret', () => {
    const c = { ...config() } as CaptchaValidatorConfig; // spread drops the non-enumerable secret
    expect(() => new CaptchaValidator(c)).toThrow(/secret is not set/);
  });
});
