import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkValidatorConfig } from '../../src/config/validator-schemas.js';
import type { Store } from '../../src/stores/store.js';
import { NetworkValidator, parseClientAddress } from '../../src/validators/network.js';
import type { ValidationResult } from '../../src/validators/validator.js';
import { makeContext, openTestStore } from './fixtures.js';

let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store.close());

const now = new Date('2026-05-01T10:00:30Z');
const net = (c: Omit<NetworkValidatorConfig, 'type'>) =>
  new NetworkValidator({ type: 'network', ...c });
const from = (v: NetworkValidator, clientIp: string, at = now, profile = 'mobile') =>
  v.validate(makeContext(store, { clientIp, now: at, profile }));
const codeOf = (r: ValidationResult) => (r.outcome === 'deny' ? r.error.code : r.outcome);

describe('network validator', () => {
  const lists = () =>
    net({ allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.66.0.0/16', '2001:db8:bad::/48'] });

  it.each([
    ['10.1.2.3', 'pass'],
    ['10.66.1.1', 'KEYVEND_NETWORK_DENIED'],
    ['192.0.2.1', 'KEYVEND_NETWORK_DENIED'],
    ['2001:db8:1::5', 'pass'],
    ['2001:db8:bad::5', 'KEYVEND_NETWORK_DENIED'],
    ['2001:dead::1', 'KEYVEND_NETWORK_DENIED'],
    ['::ffff:10.1.2.3', 'pass'],
    ['::ffff:10.66.0.9', 'KEYVEND_NETWORK_DENIED'],
    ['::ffff:a01:203', 'pass'],
    ['fe80::1%eth0', 'KEYVEND_NETWORK_DENIED'],
    ['not-an-ip', 'KEYVEND_NETWORK_DENIED'],
  ])('answers %s with %s (deny wins over allow)', async (ip, expected) => {
    expect(codeOf(await from(lists(), ip))).toBe(expected);
  });

  it('matches IPv4-mapped CIDRs in the config against plain IPv4 clients', async () => {
    expect(codeOf(await from(net({ deny: ['::ffff:192.0.2.0/120'] }), '192.0.2.9'))).toBe(
      'KEYVEND_NETWORK_DENIED',
    );
  });

  it('decides lists in precheck, spending nothing, when there is no quota', async () => {
    const v = net({ deny: ['192.0.2.0/24'] });
    expect(v.spends).toBe(false);
    expect(await v.precheck(makeContext(store, { clientIp: '198.51.100.1' }))).toEqual({
      outcome: 'pass',
    });
  });

  it('allows max registrations per address in a window, then 429 with Retry-After', async () => {
    const v = net({ quota: { max: 2, windowSeconds: 60 } });
    expect(v.spends).toBe(true);
    expect(codeOf(await from(v, '198.51.100.20'))).toBe('pass');
    expect(codeOf(await from(v, '198.51.100.20'))).toBe('pass');
    const over = await from(v, '198.51.100.20');
    expect(codeOf(over)).toBe('KEYVEND_REGISTRATION_QUOTA');
    expect(over.outcome === 'deny' && over.error.statusCode).toBe(429);
    expect(over.outcome === 'deny' && over.error.headers).toEqual({ 'retry-after': '30' });
    // Another address and another profile have their own counts; the next window starts fresh.
    expect(codeOf(await from(v, '198.51.100.21'))).toBe('pass');
    expect(codeOf(await from(v, '198.51.100.20', now, 'other'))).toBe('pass');
    expect(codeOf(await from(v, '198.51.100.20', new Date('2026-05-01T10:01:00Z')))).toBe('pass');
  });

  it('counts IPv6 clients per /64', async () => {
    const v = net({ quota: { max: 1, windowSeconds: 3600 } });
    expect(codeOf(await from(v, '2001:db8:0:7::1'))).toBe('pass');
    expect(codeOf(await from(v, '2001:db8:0:7:ffff::2'))).toBe('KEYVEND_REGISTRATION_QUOTA');
    expect(codeOf(await from(v, '2001:db8:0:8::1'))).toBe('pass');
  });

  it('keeps counting across restarts because the count lives in the store', async () => {
    const config = { quota: { max: 1, windowSeconds: 3600 } };
    expect(codeOf(await from(net(config), '203.0.113.50'))).toBe('pass');
    expect(codeOf(await from(net(config), '203.0.113.50'))).toBe('KEYVEND_REGISTRATION_QUOTA');
  });
});

describe('parseClientAddress', () => {
  it.each([
    ['192.0.2.1', { family: 'ipv4', address: '192.0.2.1', quotaKey: '192.0.2.1' }],
    ['::ffff:192.0.2.1', { family: 'ipv4', address: '192.0.2.1', quotaKey: '192.0.2.1' }],
    ['2001:db8::1', { family: 'ipv6', address: '2001:db8::1', quotaKey: '2001:db8:0:0::/64' }],
    ['::1', { family: 'ipv6', address: '::1', quotaKey: '0:0:0:0::/64' }],
    ['999.1.1.1', null],
    ['', null],
  ])('reads %s', (ip, expected) => {
    expect(parseClientAddress(ip)).toEqual(expected);
  });
});
