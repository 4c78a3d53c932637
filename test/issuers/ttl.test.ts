import { describe, expect, it } from 'vitest';
import { isKeyvendError } from '../../src/errors.js';
import { computeTtl } from '../../src/issuers/ttl.js';

const profile = { ttl: { default: 3600, max: 43_200 } };

describe('computeTtl', () => {
  it('uses the profile default when the request names no ttl', () => {
    expect(computeTtl(undefined, profile)).toBe(3600);
  });

  it('keeps a requested ttl inside the bounds', () => {
    expect(computeTtl(7200, profile)).toBe(7200);
  });

  it("clamps to the profile's maximum", () => {
    expect(computeTtl(100_000, profile)).toBe(43_200);
  });

  it("raises a too-short ttl to STS's 900-second minimum", () => {
    expect(computeTtl(60, profile)).toBe(900);
    expect(computeTtl(1, { ttl: { default: 900, max: 900 } })).toBe(900);
  });

  it("clamps to STS's 129,600-second maximum whatever the profile says", () => {
    expect(computeTtl(200_000, { ttl: { default: 3600, max: 500_000 } })).toBe(129_600);
  });

  it("clamps to the issuer's maximum (a role's MaxSessionDuration), default included", () => {
    expect(computeTtl(7200, profile, 3600)).toBe(3600);
    expect(computeTtl(undefined, { ttl: { default: 43_200, max: 43_200 } }, 3600)).toBe(3600);
  });

  it.each([1.5, Number.NaN, Number.POSITIVE_INFINITY, 0, -900, 2 ** 60])(
    'refuses a requested ttl of %s as the caller’s KEYVEND_TTL_INVALID',
    (ttl) => {
      let caught: unknown;
      try {
        computeTtl(ttl, profile);
      } catch (err) {
        caught = err;
      }
      expect(isKeyvendError(caught) && caught.code).toBe('KEYVEND_TTL_INVALID');
      expect(isKeyvendError(caught) && caught.statusCode).toBe(400);
    },
  );
});
