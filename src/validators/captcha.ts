/**
 * The `captcha` validator: reCAPTCHA (v2 and v3), hCaptcha and Cloudflare Turnstile, which all
 * speak one "siteverify" protocol. The client solves the widget for the profile's site key and
 * sends the response token as its answer; keyvend POSTs a form (`secret`, `response`,
 * `remoteip`) to the provider and reads back JSON (`success`, `score`, `action`, `hostname`,
 * `error-codes`).
 *
 * A provider that cannot be reached, answers 5xx, times out or answers something that is not
 * a siteverify reply makes registration fail with 503 `KEYVEND_VALIDATOR_UNAVAILABLE` (the
 * client may retry); a token the provider rejects is 403 `KEYVEND_CAPTCHA_FAILED`. Neither the
 * secret nor the response token ever appears in an error.
 */
import type { CaptchaValidatorConfig } from '../config/validator-schemas.js';
import { KeyvendError } from '../errors.js';
import type { ComposableValidator } from './compose.js';
import type { ValidationContext, ValidationResult } from './validator.js';

export type CaptchaProvider = CaptchaValidatorConfig['provider'];

/** Each provider's siteverify endpoint. */
export const SITEVERIFY_URLS: Readonly<Record<CaptchaProvider, string>> = {
  recaptcha: 'https://www.google.com/recaptcha/api/siteverify',
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
};

/** Longest response token accepted (providers' tokens are ~2,000 characters at most). */
export const MAX_CAPTCHA_ANSWER = 4096;

/** Why a captcha answer was refused, as sent in the deny's `details.reason`. */
export type CaptchaRejection =
  | 'answer-malformed'
  | 'rejected'
  | 'score-too-low'
  | 'action-mismatch'
  | 'hostname-mismatch';

export interface CaptchaOptions {
  fetch?: typeof fetch;
}

export class CaptchaValidator implements ComposableValidator {
  readonly type = 'captcha';
  readonly id: string;
  readonly #config: CaptchaValidatorConfig;
  readonly #url: string;
  readonly #fetch: typeof fetch;

  constructor(config: CaptchaValidatorConfig, options: CaptchaOptions = {}) {
    if (typeof config.secret !== 'string' || config.secret === '') {
      throw new Error('captcha validator: secret is not set (secretEnv was not resolved)');
    }
    this.id = config.id ?? 'captcha';
    this.#config = config;
    this.#url = config.verifyUrl ?? SITEVERIFY_URLS[config.provider];
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  async precheck(ctx: ValidationContext): Promise<ValidationResult | null> {
    if (ctx.answer === undefined) {
      return {
        outcome: 'challenge',
        challenges: [
          {
            type: 'captcha',
            id: this.id,
            provider: this.#config.provider,
            siteKey: this.#config.siteKey,
            ...(this.#config.expectedAction ? { action: this.#config.expectedAction } : {}),
          },
        ],
      };
    }
    if (
      typeof ctx.answer !== 'string' ||
      ctx.answer.length === 0 ||
      ctx.answer.length > MAX_CAPTCHA_ANSWER
    ) {
      return this.#deny('answer-malformed', []);
    }
    return null;
  }

  async validate(ctx: ValidationContext): Promise<ValidationResult> {
    const early = await this.precheck(ctx);
    if (early) return early;
    const reply = await this.#siteverify(ctx.answer as string, ctx.clientIp);
    const errorCodes = cleanErrorCodes(reply['error-codes']);
    if (reply.success !== true) return this.#deny('rejected', errorCodes);
    const { minScore, expectedAction, expectedHostname } = this.#config;
    if (minScore !== undefined && !(typeof reply.score === 'number' && reply.score >= minScore)) {
      return this.#deny('score-too-low', errorCodes);
    }
    if (expectedAction !== undefined && reply.action !== expectedAction) {
      return this.#deny('action-mismatch', errorCodes);
    }
    if (expectedHostname !== undefined && reply.hostname !== expectedHostname) {
      return this.#deny('hostname-mismatch', errorCodes);
    }
    return { outcome: 'pass' };
  }

  async #siteverify(token: string, clientIp: string): Promise<Record<string, unknown>> {
    const form = new URLSearchParams({ secret: this.#config.secret, response: token });
    if (clientIp !== '') form.set('remoteip', clientIp);
    const provider = this.#config.provider;
    // The message stays generic (5xx); what went wrong is in the cause, for the log.
    const unavailable = (why: string, cause?: unknown) =>
      new KeyvendError('KEYVEND_VALIDATOR_UNAVAILABLE', undefined, {
        cause: new Error(`captcha validator ${this.id}: ${provider} siteverify ${why}`, { cause }),
        details: { validator: this.id },
      });
    let res: Response;
    let text: string;
    try {
      res = await this.#fetch(this.#url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        signal: AbortSignal.timeout(this.#config.timeoutMs),
        redirect: 'error',
      });
      text = await res.text();
    } catch (err) {
      const timedOut = (err as Error)?.name === 'TimeoutError';
      throw unavailable(
        timedOut ? `did not answer within ${this.#config.timeoutMs} ms` : 'could not be reached',
        err,
      );
    }
    if (res.status !== 200) throw unavailable(`answered HTTP ${res.status}`);
    let reply: unknown;
    try {
      reply = JSON.parse(text);
    } catch (err) {
      throw unavailable('answered with something that is not JSON', err);
    }
    if (
      reply === null ||
      typeof reply !== 'object' ||
      typeof (reply as Record<string, unknown>).success !== 'boolean'
    ) {
      throw unavailable('answered without a boolean "success"');
    }
    return reply as Record<string, unknown>;
  }

  #deny(reason: CaptchaRejection, errorCodes: string[]): ValidationResult {
    return {
      outcome: 'deny',
      error: new KeyvendError('KEYVEND_CAPTCHA_FAILED', undefined, {
        details: {
          validator: this.id,
          provider: this.#config.provider,
          reason,
          errorCodes,
        },
      }),
    };
  }
}

/** The provider's `error-codes`, kept only as short plain words (they are echoed to clients). */
function cleanErrorCodes(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((c): c is string => typeof c === 'string' && /^[\w.-]{1,64}$/.test(c))
    .slice(0, 10);
}
