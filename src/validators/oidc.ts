/**
 * The `oidc` validator: registration needs an ID token from a trusted OpenID Connect provider
 * (Google, Apple, Microsoft Entra, Auth0, Keycloak …). The client signs the user in with the
 * provider itself and sends `{ idToken, nonce? }`; keyvend verifies it (`OidcVerifier`),
 * applies the profile's claim rules (`email_verified` equals true, `hd` equals example.com),
 * and passes with the stable identity `oidc:<iss>#<sub>`, so the same person always gets the
 * same device and principal.
 *
 * With `requireNonce` the answer must carry the nonce the client put in its sign-in request;
 * the token must hold that nonce, and each nonce is accepted once, so a token captured from
 * one registration cannot be replayed for another.
 */
import { createHash } from 'node:crypto';
import type { OidcClaimRule, OidcValidatorConfig } from '../config/validator-schemas.js';
import { type ErrorCode, isKeyvendError, KeyvendError } from '../errors.js';
import type { ComposableValidator } from './compose.js';
import { MAX_ID_TOKEN_LENGTH, OidcVerifier } from './oidc-verifier.js';
import type { ValidationContext, ValidationResult } from './validator.js';

/** Longest nonce accepted. */
const MAX_NONCE_LENGTH = 512;
/** What an `email` claim must look like to become a device attribute (session-tag safe). */
const SAFE_EMAIL = /^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,189}$/;

export interface OidcValidatorOptions {
  fetch?: typeof fetch;
  clock?: () => Date;
}

export class OidcValidator implements ComposableValidator {
  readonly type = 'oidc';
  readonly id: string;
  readonly verifier: OidcVerifier;
  readonly #config: OidcValidatorConfig;

  constructor(config: OidcValidatorConfig, options: OidcValidatorOptions = {}) {
    this.id = config.id ?? 'oidc';
    this.#config = config;
    this.verifier = new OidcVerifier({
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockToleranceSeconds: config.clockToleranceSeconds,
      timeoutMs: config.timeoutMs,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  async precheck(ctx: ValidationContext): Promise<ValidationResult | null> {
    if (ctx.answer === undefined) {
      return {
        outcome: 'challenge',
        challenges: [
          {
            type: 'oidc',
            id: this.id,
            issuer: this.#config.issuer,
            audience: this.#config.audience,
            ...(this.#config.requireNonce ? { nonceRequired: true } : {}),
          },
        ],
      };
    }
    const answer = ctx.answer as Record<string, unknown> | null;
    const idToken = answer?.idToken;
    if (
      answer === null ||
      typeof answer !== 'object' ||
      Array.isArray(answer) ||
      typeof idToken !== 'string' ||
      idToken.length === 0 ||
      idToken.length > MAX_ID_TOKEN_LENGTH
    ) {
      return this.#deny('KEYVEND_OIDC_TOKEN_INVALID', 'answer-malformed');
    }
    const nonce = answer.nonce;
    if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length > MAX_NONCE_LENGTH)) {
      return this.#deny('KEYVEND_OIDC_NONCE_MISMATCH', 'nonce-malformed');
    }
    if (this.#config.requireNonce && (typeof nonce !== 'string' || nonce.length === 0)) {
      return this.#deny('KEYVEND_OIDC_NONCE_MISMATCH', 'nonce-missing');
    }
    return null;
  }

  async validate(ctx: ValidationContext): Promise<ValidationResult> {
    const early = await this.precheck(ctx);
    if (early) return early;
    const answer = ctx.answer as { idToken: string; nonce?: string };
    const nonce = this.#config.requireNonce ? answer.nonce : undefined;

    let verified: Awaited<ReturnType<OidcVerifier['verify']>>;
    try {
      verified = await this.verifier.verify(answer.idToken, {
        now: ctx.now,
        ...(nonce === undefined ? {} : { nonce }),
      });
    } catch (err) {
      if (isKeyvendError(err) && err.statusCode < 500) {
        return this.#deny(err.code, String(err.details?.reason ?? 'refused'), err);
      }
      throw err;
    }

    for (const rule of this.#config.claims) {
      if (!satisfies(verified.claims[rule.claim], rule)) {
        return this.#deny('KEYVEND_OIDC_CLAIM_REJECTED', 'claim-rejected', undefined, {
          claim: rule.claim,
        });
      }
    }

    if (nonce !== undefined) {
      const exp = typeof verified.claims.exp === 'number' ? verified.claims.exp * 1000 : 0;
      const key = createHash('sha256').update(`${verified.issuer}\n${nonce}`).digest('base64url');
      const expiresAt = new Date(Math.max(exp, ctx.now.getTime()) + 60_000 * 10);
      if (!(await ctx.store.markOnce(`oidc-nonce:${key}`, expiresAt))) {
        return this.#deny('KEYVEND_OIDC_NONCE_MISMATCH', 'nonce-replayed');
      }
    }

    const attributes: Record<string, string> = {};
    const email = verified.claims.email;
    if (
      verified.claims.email_verified === true &&
      typeof email === 'string' &&
      SAFE_EMAIL.test(email)
    ) {
      attributes.email = email.toLowerCase();
    }
    return {
      outcome: 'pass',
      externalId: `oidc:${verified.issuer}#${verified.subject}`,
      ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
    };
  }

  #deny(
    code: ErrorCode,
    reason: string,
    cause?: unknown,
    extra: Record<string, unknown> = {},
  ): ValidationResult {
    return {
      outcome: 'deny',
      error: new KeyvendError(code, undefined, {
        details: { validator: this.id, reason, ...extra },
        ...(cause === undefined ? {} : { cause }),
      }),
    };
  }
}

/** Whether a claim value satisfies one rule. A missing claim never does. */
export function satisfies(value: unknown, rule: OidcClaimRule): boolean {
  if (value === undefined) return false;
  if (rule.equals !== undefined) return value === rule.equals;
  if (rule.oneOf !== undefined) return rule.oneOf.some((v) => v === value);
  if (rule.suffix !== undefined) return typeof value === 'string' && value.endsWith(rule.suffix);
  return false;
}
