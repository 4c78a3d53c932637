/**
 * The `invite` validator: registration needs an invite code made with `keyvend invites
 * create` (or the admin API). The code is hashed and one use is taken atomically in the store,
 * so of fifty devices racing with a one-use code exactly one gets in. Because a use is
 * spent, this validator runs only after every other validator of the profile passed.
 */

import type { InviteValidatorConfig } from '../config/validator-schemas.js';
import { KeyvendError } from '../errors.js';
import { hashInviteCode } from '../services/invites.js';
import type { ComposableValidator } from './compose.js';
import type { ValidationContext, ValidationResult } from './validator.js';

export class InviteValidator implements ComposableValidator {
  readonly type = 'invite';
  readonly id: string;
  readonly spends = true;

  constructor(config: InviteValidatorConfig) {
    this.id = config.id ?? 'invite';
  }

  async precheck(ctx: ValidationContext): Promise<ValidationResult | null> {
    if (ctx.answer === undefined) {
      return { outcome: 'challenge', challenges: [{ type: 'invite', id: this.id }] };
    }
    if (typeof ctx.answer !== 'string' || hashInviteCode(ctx.answer) === null) {
      return this.#deny('KEYVEND_INVITE_INVALID', 'malformed');
    }
    return null;
  }

  async validate(ctx: ValidationContext): Promise<ValidationResult> {
    const early = await this.precheck(ctx);
    if (early) return early;
    const hash = hashInviteCode(ctx.answer as string) as string;
    const outcome = await ctx.store.consumeInvite(hash, ctx.profile, ctx.now);
    switch (outcome) {
      case 'consumed':
        return { outcome: 'pass' };
      case 'expired':
        return this.#deny('KEYVEND_INVITE_EXPIRED', 'expired');
      case 'exhausted':
        return this.#deny('KEYVEND_INVITE_EXHAUSTED', 'exhausted');
      default:
        return this.#deny('KEYVEND_INVITE_INVALID', 'unknown');
    }
  }

  #deny(
    code: 'KEYVEND_INVITE_INVALID' | 'KEYVEND_INVITE_EXPIRED' | 'KEYVEND_INVITE_EXHAUSTED',
    reason: string,
  ): ValidationResult {
    return {
      outcome: 'deny',
      error: new KeyvendError(code, undefined, { details: { validator: this.id, reason } }),
    };
  }
}
