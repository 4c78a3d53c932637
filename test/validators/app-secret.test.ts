import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppSecretValidatorConfig } from '../../src/config/validator-schemas.js';
import type { Store } from '../../src/stores/store.js';
import {
  APP_SIGNATURE_HEADER,
  AppSecretValidator,
  signAppRequest,
} from '../../src/validators/app-secret.js';
import type { ValidationResult } from '../../src/validators/validator.js';
import { makeContext, openTestStore } from './fixtures.js';

const now = new Date('2026-06-01T08:00:00Z');
let store: Store;
beforeAll(async () => {
  store = await openTestStore(() => now);
});
afterAll(() => store.close());

const t = Math.floor(now.getTime() / 1000);
const body = '{"profile":"mobile"}';

function validator(secrets: { secret: string; previousSecret?: string }): AppSecretValidator {
  const config = { type: 'app-secret', secretEnv: 'APP_SECRET', toleranceSeconds: 300 };
  for (const [k, v] of Object.entries(secrets)) {
    Object.defineProperty(config, k, { value: v, enumerable: false });
  }
  return new AppSecretValidator(config as AppSecretValidatorConfig);
}

const send = (
  v: AppSecretValidator,
  header: string | string[] | undefined,
  rawBody = body,
  at = now,
) =>
  v.validate(
    makeContext(store, {
      now: at,
      rawBody,
      headers: header === undefined ? {} : { [APP_SIGNATURE_HEADER]: header },
    }),
  );
const codeOf = (r: ValidationResult) => (r.outcome === 'deny' ? r.error.code : r.outcome);

describe('app-secret validator', () => {
  it('passes a request signed over t and the raw body, once', async () => {
    const v = validator({ secret: 'current' });
    const header = signAppRequest('current', body, t);
    expect(await send(v, header)).toEqual({ outcome: 'pass' });
    expect(codeOf(await send(v, header))).toBe('KEYVEND_APP_SECRET_REPLAYED');
  });

  it('accepts the previous secret during a rotation, and nothing else', async () => {
    const v = validator({ secret: 'new', previousSecret: 'old' });
    expect(codeOf(await send(v, signAppRequest('old', body, t + 1)))).toBe('pass');
    expect(codeOf(await send(v, signAppRequest('new', body, t + 2)))).toBe('pass');
    expect(codeOf(await send(v, signAppRequest('guess', body, t + 3)))).toBe(
      'KEYVEND_APP_SECRET_INVALID',
    );
  });

  it('refuses a signature over another body', async () => {
    const v = validator({ secret: 's' });
    expect(codeOf(await send(v, signAppRequest('s', body, t), '{"profile":"admin"}'))).toBe(
      'KEYVEND_APP_SECRET_INVALID',
    );
  });

  it('refuses a time more than 300 s away, either way', async () => {
    const v = validator({ secret: 's' });
    expect(codeOf(await send(v, signAppRequest('s', body, t - 301)))).toBe(
      'KEYVEND_APP_SECRET_REPLAYED',
    );
    expect(codeOf(await send(v, signAppRequest('s', body, t + 301)))).toBe(
      'KEYVEND_APP_SECRET_REPLAYED',
    );
    expect(codeOf(await send(v, signAppRequest('s', body, t - 299)))).toBe('pass');
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['no v1', `t=${t}`],
    ['no t', `v1=${'a'.repeat(64)}`],
    ['a short mac', `t=${t},v1=abcd`],
    ['a repeated header', [`t=${t},v1=${'a'.repeat(64)}`, `t=${t},v1=${'b'.repeat(64)}`]],
    ['a huge header', `t=${t},v1=${'a'.repeat(2000)}`],
  ])('refuses %s as invalid', async (_name, header) => {
    expect(codeOf(await send(validator({ secret: 's' }), header))).toBe(
      'KEYVEND_APP_SECRET_INVALID',
    );
  });

  it('refuses to start without a resolved secret', () => {
    expect(
      () =>
        new AppSecretValidator({
          type: 'app-secret',
          secretEnv: 'X',
          toleranceSeconds: 300,
        } as AppSecretValidatorConfig),
    ).toThrow(/secret is not set/);
  });
});
