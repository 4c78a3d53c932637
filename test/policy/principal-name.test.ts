import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  federationPrincipalName,
  principalNameFor,
  roleSessionName,
} from '../../src/policy/principal-name.js';

const STS_NAME = /^[\w+=,.@-]+$/;
const base32 = (prefix: string) =>
  fc.stringMatching(/^[a-z2-7]{24}$/).map((chars) => `${prefix}${chars}`);

describe('federationPrincipalName', () => {
  it('is kv- and the id for device and user ids, within GetFederationToken limits', () => {
    fc.assert(
      fc.property(fc.oneof(base32('d-'), base32('u-')), (id) => {
        const name = federationPrincipalName(id);
        expect(name).toBe(`kv-${id}`);
        expect(name).toHaveLength(29);
        expect(name).toMatch(STS_NAME);
      }),
      { numRuns: 50 },
    );
  });

  it('gives distinct ids distinct names, and the same id the same name', () => {
    expect(federationPrincipalName('d-aaaaaaaaaaaaaaaaaaaaaaaa')).toBe(
      federationPrincipalName('d-aaaaaaaaaaaaaaaaaaaaaaaa'),
    );
    expect(federationPrincipalName('d-aaaaaaaaaaaaaaaaaaaaaaaa')).not.toBe(
      federationPrincipalName('u-aaaaaaaaaaaaaaaaaaaaaaaa'),
    );
  });

  it('throws rather than cut a name over 32 characters', () => {
    expect(federationPrincipalName('x'.repeat(29))).toHaveLength(32);
    expect(() => federationPrincipalName('x'.repeat(30))).toThrow(
      "GetFederationToken Name: 33 characters is over STS's limit of 32",
    );
  });

  it.each(['', 'd-a b', 'd-a:b', 'd-a/b', 'd-é', 'd-a*'])(
    'throws for an id STS would refuse: %j',
    (id) => {
      expect(() => federationPrincipalName(id)).toThrow(RangeError);
    },
  );
});

describe('roleSessionName', () => {
  it('allows up to 64 characters and no more', () => {
    expect(roleSessionName('x'.repeat(61))).toHaveLength(64);
    expect(() => roleSessionName('x'.repeat(62))).toThrow(
      "RoleSessionName: 65 characters is over STS's limit of 64",
    );
  });
});

describe('principalNameFor', () => {
  it('applies the federated-user limit only to federation-token', () => {
    const id = 'x'.repeat(40);
    expect(() => principalNameFor('federation-token', id)).toThrow(RangeError);
    expect(principalNameFor('assume-role', id)).toBe(`kv-${id}`);
  });
});
