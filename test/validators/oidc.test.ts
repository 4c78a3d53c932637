import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OidcValidatorConfig } from '../../src/config/validator-schemas.js';
import { isKeyvendError } from '../../src/errors.js';
import type { Store } from '../../src/stores/store.js';
import { OidcValidator } from '../../src/validators/oidc.js';
import { OidcVerifier } from '../../src/validators/oidc-verifier.js';
import type { ValidationResult } from '../../src/validators/validator.js';
import { type OidcIssuer, startOidcIssuer } from '../support/oidc-issuer.js';
import { makeContext, openTestStore } from './fixtures.js';

let idp: OidcIssuer;
let store: Store;
let now = new Date();
const clock = () => now;

beforeAll(async () => {
  idp = await startOidcIssuer({ audience: 'app-client' });
  store = await openTestStore(clock);
});
afterAll(async () => {
  await idp.close();
  await store.close();
});
beforeEach(() => {
  now = new Date();
});

function validator(extra: Partial<OidcValidatorConfig> = {}): OidcValidator {
  return new OidcValidator(
    {
      type: 'oidc',
      issuer: idp.issuer,
      audience: 'app-client',
      algorithms: ['RS256', 'ES256'],
      requireNonce: false,
      claims: [],
      clockToleranceSeconds: 0,
      timeoutMs: 2000,
      ...extra,
    },
    { clock },
  );
}

const codeOf = (r: ValidationResult) => (r.outcome === 'deny' ? r.error.code : r.outcome);
const answer = (idToken: string, nonce?: string) => ({ idToken, ...(nonce ? { nonce } : {}) });
const check = (v: OidcValidator, a: unknown) => v.validate(makeContext(store, { now, answer: a }));

async function thrown(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('oidc validator', () => {
  it('asks for an ID token from the issuer for the audience when there is no answer', async () => {
    expect(await validator({ id: 'google' }).validate(makeContext(store, { now }))).toEqual({
      outcome: 'challenge',
      challenges: [{ type: 'oidc', id: 'google', issuer: idp.issuer, audience: 'app-client' }],
    });
  });

  it.each(['RS256', 'ES256'])(
    'passes a %s ID token with the external id oidc:<iss>#<sub>',
    async (alg) => {
      const token = await idp.mint({ sub: 'alice' }, { alg, now });
      expect(await check(validator(), answer(token))).toEqual({
        outcome: 'pass',
        externalId: `oidc:${idp.issuer}#alice`,
      });
    },
  );

  it('adds the email as an attribute only when it is verified and plain', async () => {
    const v = validator();
    const verified = await idp.mint({ email: 'Ann@Example.com', email_verified: true }, { now });
    expect(await check(v, answer(verified))).toMatchObject({
      attributes: { email: 'ann@example.com' },
    });
    const unverified = await idp.mint({ email: 'bob@example.com', email_verified: false }, { now });
    expect(await check(v, answer(unverified))).not.toHaveProperty('attributes');
    const odd = await idp.mint({ email: 'x"}@example.com', email_verified: true }, { now });
    expect(await check(v, answer(odd))).not.toHaveProperty('attributes');
  });

  it('refuses an expired token', async () => {
    const token = await idp.mint({}, { now: new Date(now.getTime() - 3600_000) });
    expect(codeOf(await check(validator(), answer(token)))).toBe('KEYVEND_OIDC_TOKEN_EXPIRED');
  });

  it('refuses a token for another audience', async () => {
    const token = await idp.mint({ aud: 'someone-else' }, { now });
    expect(codeOf(await check(validator(), answer(token)))).toBe('KEYVEND_OIDC_WRONG_AUDIENCE');
  });

  it('accepts any of several configured audiences', async () => {
    const token = await idp.mint({ aud: 'ios-client' }, { now });
    expect(
      codeOf(await check(validator({ audience: ['web-client', 'ios-client'] }), answer(token))),
    ).toBe('pass');
  });

  it('refuses a token whose iss is another issuer', async () => {
    const token = await idp.mint({ iss: 'https://evil.example' }, { now });
    expect(codeOf(await check(validator(), answer(token)))).toBe('KEYVEND_OIDC_WRONG_ISSUER');
  });

  it('refuses a token signed by a key outside the JWKS under a published kid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await idp.mint({}, { now, key: privateKey });
    const r = await check(validator(), answer(token));
    expect(codeOf(r)).toBe('KEYVEND_OIDC_TOKEN_INVALID');
    expect(r.outcome === 'deny' && r.error.details?.reason).toBe('signature');
  });

  describe('algorithm pinning', () => {
    it('refuses alg none', async () => {
      expect(codeOf(await check(validator(), answer(idp.mintUnsigned({}, { now }))))).toBe(
        'KEYVEND_OIDC_ALG_NOT_ALLOWED',
      );
    });

    it('refuses HS256 signed with the RSA public key as the secret', async () => {
      const pem = new TextEncoder().encode(await idp.publicPem('RS256'));
      const token = await idp.mint({}, { now, alg: 'HS256', key: pem, kid: idp.keys[0]!.kid });
      expect(codeOf(await check(validator(), answer(token)))).toBe('KEYVEND_OIDC_ALG_NOT_ALLOWED');
    });

    it('refuses an algorithm the profile does not list', async () => {
      const token = await idp.mint({}, { now, alg: 'ES256' });
      expect(codeOf(await check(validator({ algorithms: ['RS256'] }), answer(token)))).toBe(
        'KEYVEND_OIDC_ALG_NOT_ALLOWED',
      );
    });
  });

  describe('claim rules', () => {
    const rules = () =>
      validator({
        claims: [
          { claim: 'email_verified', equals: true },
          { claim: 'hd', oneOf: ['example.com', 'example.org'] },
          { claim: 'email', suffix: '@example.com' },
        ],
      });

    it('passes a token satisfying every rule', async () => {
      const token = await idp.mint(
        { email_verified: true, hd: 'example.com', email: 'a@example.com' },
        { now },
      );
      expect(codeOf(await check(rules(), answer(token)))).toBe('pass');
    });

    it.each([
      [
        'a false email_verified',
        { email_verified: false, hd: 'example.com', email: 'a@example.com' },
        'email_verified',
      ],
      ['an unlisted hd', { email_verified: true, hd: 'evil.com', email: 'a@example.com' }, 'hd'],
      ['a missing hd', { email_verified: true, email: 'a@example.com' }, 'hd'],
      [
        'an email of another domain',
        { email_verified: true, hd: 'example.com', email: 'a@example.com.evil' },
        'email',
      ],
      [
        'a string "true"',
        { email_verified: 'true', hd: 'example.com', email: 'a@example.com' },
        'email_verified',
      ],
    ])('refuses %s, naming the claim', async (_name, claims, claim) => {
      const r = await check(rules(), answer(await idp.mint(claims, { now })));
      expect(codeOf(r)).toBe('KEYVEND_OIDC_CLAIM_REJECTED');
      expect(r.outcome === 'deny' && r.error.details?.claim).toBe(claim);
    });
  });

  describe('nonce', () => {
    it('passes when the token holds the nonce the answer carries, once', async () => {
      const v = validator({ requireNonce: true });
      const token = await idp.mint({ nonce: 'n-123456' }, { now });
      expect(codeOf(await check(v, answer(token, 'n-123456')))).toBe('pass');
      const r = await check(v, answer(token, 'n-123456'));
      expect(codeOf(r)).toBe('KEYVEND_OIDC_NONCE_MISMATCH');
      expect(r.outcome === 'deny' && r.error.details?.reason).toBe('nonce-replayed');
    });

    it('refuses a nonce that differs from the token, or a missing one', async () => {
      const v = validator({ requireNonce: true });
      const token = await idp.mint({ nonce: 'n-abc' }, { now });
      expect(codeOf(await check(v, answer(token, 'n-other')))).toBe('KEYVEND_OIDC_NONCE_MISMATCH');
      expect(codeOf(await check(v, answer(token)))).toBe('KEYVEND_OIDC_NONCE_MISMATCH');
    });
  });

  it.each([
    ['a bare string', 'eyJ...'],
    ['an empty idToken', { idToken: '' }],
    ['an idToken over 16 KiB', { idToken: 'a'.repeat(16_385) }],
    ['garbage', { idToken: 'not.a.jwt' }],
    ['an array', ['x']],
  ])('refuses %s as answer without a crash', async (_name, a) => {
    expect(codeOf(await check(validator(), a))).toBe('KEYVEND_OIDC_TOKEN_INVALID');
  });
});

describe('OidcVerifier key handling', () => {
  const verifier = () =>
    new OidcVerifier({
      issuer: idp.issuer,
      audience: 'app-client',
      clock,
      clockToleranceSeconds: 0,
    });

  it('shares one discovery and one JWKS fetch among concurrent verifications', async () => {
    const v = verifier();
    const before = { ...idp.requests };
    const token = await idp.mint({}, { now });
    const results = await Promise.all(Array.from({ length: 10 }, () => v.verify(token, { now })));
    expect(results.every((r) => r.subject === 'user-1')).toBe(true);
    expect(idp.requests.discovery - before.discovery).toBe(1);
    expect(idp.requests.jwks - before.jwks).toBe(1);
  });

  it('refetches the JWKS for an unknown kid at most once per 30 s, then finds rotated keys', async () => {
    const v = verifier();
    await v.verify(await idp.mint({}, { now }), { now });
    const fetched = idp.requests.jwks;
    const stranger = await idp.mint({}, { now, kid: 'no-such-kid' });
    for (let i = 0; i < 5; i++) {
      const err = await thrown(v.verify(stranger, { now }));
      expect(isKeyvendError(err) && err.code).toBe('KEYVEND_OIDC_UNKNOWN_KEY');
    }
    expect(idp.requests.jwks).toBe(fetched);

    await idp.rotateKeys();
    now = new Date(now.getTime() + 31_000);
    const rotated = await idp.mint({}, { now });
    expect((await v.verify(rotated, { now })).subject).toBe('user-1');
    expect(idp.requests.jwks).toBe(fetched + 1);
  });

  it('tries each candidate key when a token has no kid', async () => {
    await idp.rotateKeys({ keepOld: true });
    const token = await idp.mint({}, { now, kid: null });
    expect((await verifier().verify(token, { now })).subject).toBe('user-1');
  });

  it('throws 503 keeping the cause when the issuer is down', async () => {
    idp.setDown(true);
    try {
      const err = await thrown(verifier().verify(await idp.mint({}, { now }), { now }));
      expect(isKeyvendError(err) && err.code).toBe('KEYVEND_VALIDATOR_UNAVAILABLE');
      expect(isKeyvendError(err) && err.statusCode).toBe(503);
      // Through the validator it stays a 503 (thrown), not a deny.
      await expect(check(validator(), answer(await idp.mint({}, { now })))).rejects.toMatchObject({
        code: 'KEYVEND_VALIDATOR_UNAVAILABLE',
      });
    } finally {
      idp.setDown(false);
    }
  });

  it('throws 503 when discovery names another issuer', async () => {
    idp.setDiscovery({ issuer: 'https://impostor.example' });
    try {
      const err = await thrown(verifier().verify(await idp.mint({}, { now }), { now }));
      expect(isKeyvendError(err) && err.code).toBe('KEYVEND_VALIDATOR_UNAVAILABLE');
    } finally {
      idp.setDiscovery({});
    }
  });

  it('throws 503 when the provider cannot be reached at all', async () => {
    const gone = 'http://127.0.0.1:1'; // nothing listens on port 1
    const token = await idp.mint({ iss: gone }, { now });
    const v = new OidcVerifier({ issuer: gone, audience: 'app-client', clock, timeoutMs: 500 });
    const err = await thrown(v.verify(token, { now }));
    expect(isKeyvendError(err) && err.code).toBe('KEYVEND_VALIDATOR_UNAVAILABLE');
    expect(isKeyvendError(err) && err.cause).toBeDefined();
  });

  it('refuses to be built with an HMAC algorithm', () => {
    expect(
      () => new OidcVerifier({ issuer: idp.issuer, audience: 'a', algorithms: ['HS256'] }),
    ).toThrow(/asymmetric/);
  });
});
