import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { checkValidatorConfig, type ValidatorConfig } from '../../src/config/validator-schemas.js';
import { ConfigError } from '../../src/errors.js';
import { closeValidators, createValidators } from '../../src/validators/registry.js';
import { createTestSigner, openTestStore } from './fixtures.js';

const ENV = { CAPTCHA_SECRET: 'cs-123', APP_SECRET: 'as-456', APP_SECRET_OLD: 'as-old' };

const EVERY_VALIDATOR = [
  {
    type: 'captcha',
    provider: 'recaptcha',
    siteKey: 'site',
    secretEnv: 'CAPTCHA_SECRET',
    minScore: 0.5,
  },
  { type: 'proof-of-work' },
  {
    type: 'oidc',
    issuer: 'https://accounts.example.com',
    audience: ['ios', 'android'],
    claims: [{ claim: 'email_verified', equals: true }],
  },
  { type: 'network', deny: ['192.0.2.0/24', '2001:db8::/32'], quota: { max: 5 } },
  { type: 'app-secret', secretEnv: 'APP_SECRET', previousSecretEnv: 'APP_SECRET_OLD' },
  { type: 'anyOf', validators: [{ type: 'invite' }, { type: 'none' }] },
];

function configWith(validators: unknown[], env: Record<string, string> = ENV) {
  return buildConfig(
    {
      aws: { region: 'us-east-1' },
      profiles: {
        mobile: { validators, issuer: { type: 'federation-token' }, policy: 'device.json' },
      },
    },
    { baseDir: '/tmp', env },
  );
}

describe('validator config', () => {
  it('accepts every validator type and fills the defaults', () => {
    const config = configWith(EVERY_VALIDATOR);
    const [captcha, pow, oidc, network, appSecret] = config.profiles.mobile!.validators;
    expect(captcha).toMatchObject({ timeoutMs: 5000 });
    expect(pow).toMatchObject({ difficulty: 16, ttlSeconds: 300 });
    expect(oidc).toMatchObject({
      algorithms: ['RS256', 'ES256'],
      requireNonce: false,
      clockToleranceSeconds: 60,
      timeoutMs: 5000,
    });
    expect(network).toMatchObject({ quota: { max: 5, windowSeconds: 3600 } });
    expect(appSecret).toMatchObject({ toleranceSeconds: 300 });
    expect(
      checkValidatorConfig(config.profiles.mobile!.validators, 'profiles.mobile.validators'),
    ).toEqual([]);
  });

  it('resolves secrets into properties that never serialise', () => {
    const config = configWith(EVERY_VALIDATOR);
    const text = JSON.stringify(config);
    for (const secret of Object.values(ENV)) expect(text).not.toContain(secret);
    const appSecret = config.profiles.mobile!.validators[4] as {
      secret: string;
      previousSecret: string;
    };
    expect([appSecret.secret, appSecret.previousSecret]).toEqual(['as-456', 'as-old']);
  });

  it.each([
    [[{ type: 'proof-of-work', difficulty: 40 }], /validators\[0\]\.difficulty/],
    [
      [{ type: 'oidc', issuer: 'https://x', audience: 'a', algorithms: ['HS256'] }],
      /algorithms\[0\]/,
    ],
    [[{ type: 'telepathy' }], /unknown type "telepathy"/],
    [[{ type: 'invite', code: 'x' }], /validators\[0\]\.code: unknown key/],
  ])('refuses %j naming the key', (validators, message) => {
    expect(() => configWith(validators)).toThrow(ConfigError);
    expect(() => configWith(validators)).toThrow(message);
  });
});

describe('checkValidatorConfig', () => {
  const check = (validators: unknown[]) =>
    checkValidatorConfig(validators as ValidatorConfig[], 'profiles.mobile.validators');

  it('names a bad CIDR by its key', () => {
    expect(
      check([{ type: 'network', allow: ['10.0.0.0/8', '10.0.0.0/33'], deny: ['nope'] }]),
    ).toEqual([
      'profiles.mobile.validators[0].allow[1]: "10.0.0.0/33" is not an IP address or CIDR',
      'profiles.mobile.validators[0].deny[0]: "nope" is not an IP address or CIDR',
    ]);
  });

  it('refuses two validators answering under one id, group members included', () => {
    const problems = check([
      { type: 'captcha', id: 'human' },
      { type: 'anyOf', validators: [{ type: 'invite' }, { type: 'proof-of-work', id: 'human' }] },
    ]);
    expect(problems).toEqual([
      'profiles.mobile.validators[1].validators[1].id: "human" is already used by profiles.mobile.validators[0]; give each validator its own id',
    ]);
  });

  it('refuses a claim rule with more or less than one test, and an empty network validator', () => {
    const problems = check([
      {
        type: 'oidc',
        issuer: 'https://id.example',
        claims: [{ claim: 'hd', equals: 'a', suffix: 'b' }, { claim: 'sub' }],
      },
      { type: 'network' },
    ]);
    expect(problems).toEqual([
      'profiles.mobile.validators[0].claims[0]: set exactly one of equals, oneOf, suffix',
      'profiles.mobile.validators[0].claims[1]: set exactly one of equals, oneOf, suffix',
      'profiles.mobile.validators[1]: set at least one of allow, deny, quota',
    ]);
  });

  it('refuses two oidc validators that would both have to pass', () => {
    const oidc = (id: string) => ({ type: 'oidc', id, issuer: 'https://id.example', claims: [] });
    expect(check([oidc('a'), oidc('b')])).toEqual([
      expect.stringContaining('more than one oidc validator'),
    ]);
    expect(check([{ type: 'anyOf', validators: [oidc('a'), oidc('b')] }])).toEqual([]);
  });
});

describe('createValidators', () => {
  it('builds one validator per entry, with ids defaulting to the type', async () => {
    const store = await openTestStore();
    try {
      const config = configWith(EVERY_VALIDATOR);
      const validators = createValidators(config.profiles.mobile!.validators, {
        store,
        signer: await createTestSigner(),
      });
      expect(validators.map((v) => [v.type, v.id])).toEqual([
        ['captcha', 'captcha'],
        ['proof-of-work', 'proof-of-work'],
        ['oidc', 'oidc'],
        ['network', 'network'],
        ['app-secret', 'app-secret'],
        ['anyOf', 'anyOf'],
      ]);
      await expect(closeValidators(validators)).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
