/**
 * The `app-secret` validator: the registration request must be signed with a secret built
 * into the official app, in the header
 *
 *     x-keyvend-app-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + rawBody)>
 *
 * The time must be within ±`toleranceSeconds` (300) of keyvend's clock, each signature works
 * once (a replay marker is kept in the store until it would be too old anyway), comparison is
 * constant-time, and during a rotation both `secretEnv` and `previousSecretEnv` are accepted.
 *
 * This is weak on its own. An app cannot keep a secret: anyone can pull it out of the
 * binary or watch the app sign requests, and then sign their own. What it buys is that
 * casual scripts, scanners and copy-pasted curl commands are turned away, and that a leaked
 * secret can be rotated. Pair it with a captcha, proof-of-work or sign-in for anything that
 * matters.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AppSecretValidatorConfig } from '../config/validator-schemas.js';
import { KeyvendError } from '../errors.js';
import type { ComposableValidator } from './compose.js';
import type { ValidationContext, ValidationResult } from './validator.js';

/** The header carrying the signature. */
export const APP_SIGNATURE_HEADER = 'x-keyvend-app-signature';

/** Longest header value parsed. */
const MAX_HEADER_LENGTH = 1024;

/**
 * Computes the header value for a request body (what the app does; also handy in tests).
 *
 * @example
 * ```ts
 * headers['x-keyvend-app-signature'] = signAppRequest(secret, body, Math.floor(Date.now() / 1000));
 * ```
 */
export function signAppRequest(secret: string, rawBody: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret)
    .update(`${unixSeconds}.${rawBody}`, 'utf8')
    .digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

interface ParsedSignature {
  t: number;
  signatures: Buffer[];
}

export class AppSecretValidator implements ComposableValidator {
  readonly type = 'app-secret';
  readonly id: string;
  readonly #secrets: string[];
  readonly #tolerance: number;

  constructor(config: AppSecretValidatorConfig) {
    if (typeof config.secret !== 'string' || config.secret === '') {
      throw new Error('app-secret validator: secret is not set (secretEnv was not resolved)');
    }
    this.id = config.id ?? 'app-secret';
    this.#secrets = [config.secret];
    if (typeof config.previousSecret === 'string' && config.previousSecret !== '') {
      this.#secrets.push(config.previousSecret);
    }
    this.#tolerance = config.toleranceSeconds;
  }

  async precheck(ctx: ValidationContext): Promise<ValidationResult | null> {
    const checked = this.#check(ctx);
    return 'outcome' in checked ? checked : null;
  }

  async validate(ctx: ValidationContext): Promise<ValidationResult> {
    const checked = this.#check(ctx);
    if ('outcome' in checked) return checked;
    const first = await ctx.store.markOnce(
      `appsig:${this.id}:${checked.mac}`,
      new Date((checked.t + this.#tolerance) * 1000 + 60_000),
    );
    return first ? { outcome: 'pass' } : this.#deny('KEYVEND_APP_SECRET_REPLAYED', 'replayed');
  }

  #check(ctx: ValidationContext): ValidationResult | { t: number; mac: string } {
    const raw = ctx.headers[APP_SIGNATURE_HEADER];
    if (raw === undefined) return this.#deny('KEYVEND_APP_SECRET_INVALID', 'missing');
    const parsed = typeof raw === 'string' ? parseSignatureHeader(raw) : null;
    if (parsed === null) return this.#deny('KEYVEND_APP_SECRET_INVALID', 'malformed');
    const skew = Math.abs(ctx.now.getTime() / 1000 - parsed.t);
    if (skew > this.#tolerance) return this.#deny('KEYVEND_APP_SECRET_REPLAYED', 'outside-window');
    let match: Buffer | undefined;
    for (const secret of this.#secrets) {
      const expected = createHmac('sha256', secret)
        .update(`${parsed.t}.${ctx.rawBody}`, 'utf8')
        .digest();
      for (const given of parsed.signatures) {
        // Compare against every candidate so timing does not reveal which one matched.
        if (timingSafeEqual(expected, given) && match === undefined) match = expected;
      }
    }
    if (match === undefined) return this.#deny('KEYVEND_APP_SECRET_INVALID', 'mismatch');
    return { t: parsed.t, mac: match.toString('hex') };
  }

  #deny(
    code: 'KEYVEND_APP_SECRET_INVALID' | 'KEYVEND_APP_SECRET_REPLAYED',
    reason: string,
  ): ValidationResult {
    return {
      outcome: 'deny',
      error: new KeyvendError(code, undefined, { details: { validator: this.id, reason } }),
    };
  }
}

/** `t=<digits>,v1=<64 hex>[,v1=…]` → its parts, or null. Unknown keys are ignored. */
export function parseSignatureHeader(value: string): ParsedSignature | null {
  if (value.length > MAX_HEADER_LENGTH) return null;
  let t: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) return null;
    const key = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (key === 't') {
      if (t !== undefined || !/^\d{1,12}$/.test(val)) return null;
      t = Number(val);
    } else if (key === 'v1') {
      if (!/^[0-9a-fA-F]{64}$/.test(val) || signatures.length >= 4) return null;
      signatures.push(Buffer.from(val, 'hex'));
    }
  }
  return t === undefined || signatures.length === 0 ? null : { t, signatures };
}
