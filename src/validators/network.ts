/**
 * The `network` validator: which client addresses may register, and how often. `allow` and
 * `deny` hold addresses and CIDRs (IPv4 and IPv6; an IPv4-mapped IPv6 address such as
 * `::ffff:198.51.100.7` counts as its IPv4 address); deny wins, and when `allow` is set every
 * address outside it is refused. `quota` caps registrations per address in a fixed window,
 * counted in the store so it holds across restarts and instances; IPv6 clients are counted
 * per /64, since one host usually controls a whole /64.
 *
 * `ctx.clientIp` is the address after keyvend applied its trusted proxies. A quota slot is
 * spent only by a registration every other validator accepted.
 */
import { type BlockList, isIP } from 'node:net';
import { blockListOf, type NetworkValidatorConfig } from '../config/validator-schemas.js';
import { KeyvendError } from '../errors.js';
import type { ComposableValidator } from './compose.js';
import type { ValidationContext, ValidationResult } from './validator.js';

/** A client address in canonical form. */
export interface ClientAddress {
  family: 'ipv4' | 'ipv6';
  address: string;
  /** What the quota counts: the IPv4 address, or the IPv6 /64 prefix (`2001:db8:0:1::/64`). */
  quotaKey: string;
}

export class NetworkValidator implements ComposableValidator {
  readonly type = 'network';
  readonly id: string;
  readonly spends: boolean;
  readonly #allow: BlockList | undefined;
  readonly #deny: BlockList | undefined;
  readonly #quota: NetworkValidatorConfig['quota'];

  /** @throws Error when a list entry is not an address or CIDR (the loader reports it first). */
  constructor(config: NetworkValidatorConfig) {
    this.id = config.id ?? 'network';
    this.#allow = config.allow === undefined ? undefined : blockListOf(config.allow);
    this.#deny = config.deny === undefined ? undefined : blockListOf(config.deny);
    this.#quota = config.quota;
    this.spends = config.quota !== undefined;
  }

  async precheck(ctx: ValidationContext): Promise<ValidationResult | null> {
    const checked = this.#checkLists(ctx.clientIp);
    if ('outcome' in checked) return checked;
    return this.#quota === undefined ? { outcome: 'pass' } : null;
  }

  async validate(ctx: ValidationContext): Promise<ValidationResult> {
    const checked = this.#checkLists(ctx.clientIp);
    if ('outcome' in checked) return checked;
    const quota = this.#quota;
    if (quota === undefined) return { outcome: 'pass' };

    const windowMs = quota.windowSeconds * 1000;
    const start = Math.floor(ctx.now.getTime() / windowMs) * windowMs;
    const end = start + windowMs;
    const key = `regquota:${ctx.profile}:${this.id}:${checked.quotaKey}`;
    const count = await ctx.store.incrementCounter(key, new Date(start), new Date(end));
    if (count > quota.max) {
      const retryAfter = Math.max(1, Math.ceil((end - ctx.now.getTime()) / 1000));
      return {
        outcome: 'deny',
        error: new KeyvendError('KEYVEND_REGISTRATION_QUOTA', undefined, {
          details: { validator: this.id, retryAfterSeconds: retryAfter },
          headers: { 'retry-after': String(retryAfter) },
        }),
      };
    }
    return { outcome: 'pass' };
  }

  #checkLists(clientIp: string): ValidationResult | ClientAddress {
    const addr = parseClientAddress(clientIp);
    if (addr === null) return this.#denied('address-invalid');
    if (this.#deny?.check(addr.address, addr.family)) return this.#denied('denied');
    if (this.#allow && !this.#allow.check(addr.address, addr.family)) {
      return this.#denied('not-allowed');
    }
    return addr;
  }

  #denied(reason: string): ValidationResult {
    return {
      outcome: 'deny',
      error: new KeyvendError('KEYVEND_NETWORK_DENIED', undefined, {
        details: { validator: this.id, reason },
      }),
    };
  }
}

/**
 * Canonical form of a client address: zone ids dropped, IPv4-mapped IPv6 (`::ffff:1.2.3.4`,
 * `::ffff:102:304`) turned into IPv4. Null when it is not an IP address.
 */
export function parseClientAddress(ip: string): ClientAddress | null {
  if (typeof ip !== 'string') return null;
  const bare = ip.replace(/%[\w.-]+$/, '');
  const version = isIP(bare);
  if (version === 4) return { family: 'ipv4', address: bare, quotaKey: bare };
  if (version !== 6) return null;
  const hextets = expandIpv6(bare);
  if (hextets === null) return null;
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    const v4 = [hextets[6]! >> 8, hextets[6]! & 255, hextets[7]! >> 8, hextets[7]! & 255].join('.');
    return { family: 'ipv4', address: v4, quotaKey: v4 };
  }
  const prefix = hextets
    .slice(0, 4)
    .map((h) => h.toString(16))
    .join(':');
  return { family: 'ipv6', address: bare, quotaKey: `${prefix}::/64` };
}

/** The eight 16-bit groups of a valid IPv6 address (dotted IPv4 tails included). */
function expandIpv6(address: string): number[] | null {
  let text = address.toLowerCase();
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const values = groups.map((g) => Number.parseInt(g, 16));
  return values.length === 8 && values.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffff)
    ? values
    : null;
}
