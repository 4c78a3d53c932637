/**
 * The validator contract. A validator runs when a device registers and answers one of:
 * - `pass` — optionally with identity facts (an external id, attributes) for the device;
 * - `challenge` — the client must solve something and register again with the answer
 *   (the reply lists every open challenge of the profile at once);
 * - `deny` — refused, with the coded error to send.
 *
 * A validator throws only for dependency failures (a captcha verify server that is down):
 * throw `KeyvendError('KEYVEND_VALIDATOR_UNAVAILABLE', …, { cause })`.
 */
import type { KeyvendError } from '../errors.js';
import type { Store } from '../stores/store.js';

export interface ValidationContext {
  /** Profile name being registered for. */
  profile: string;
  /**
   * The answer the client sent for this validator: `body.answers[validator.id]`, or
   * undefined when absent. Untrusted: check its type.
   */
  answer: unknown;
  /** The whole registration body, already schema-checked as an object. Untrusted. */
  body: Readonly<Record<string, unknown>>;
  /** The raw request body bytes (for signatures over the body, e.g. app-secret). */
  rawBody: string;
  /** Request headers, lowercased names. Untrusted. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Client address after applying the configured trusted proxies. */
  clientIp: string;
  now: Date;
  store: Store;
}

/** What a client is asked to do. `type` and `id` are always present. */
export interface Challenge {
  /** Validator type, e.g. `captcha`. */
  type: string;
  /** Key under `answers` where the client sends its answer. */
  id: string;
  [detail: string]: unknown;
}

export interface PassFacts {
  /** A stable external identity (issuer + subject); same person → same device principal. */
  externalId?: string;
  /** String attributes for the device (session tags, template values). */
  attributes?: Record<string, string>;
}

export type ValidationResult =
  | ({ outcome: 'pass' } & PassFacts)
  | { outcome: 'challenge'; challenges: Challenge[] }
  | { outcome: 'deny'; error: KeyvendError };

export interface Validator {
  /** Validator type from the config, e.g. `captcha`. */
  readonly type: string;
  /** Answer key; the config's `id`, defaulting to the type. */
  readonly id: string;
  validate(ctx: ValidationContext): Promise<ValidationResult>;
  /** Releases timers/sockets, if any. */
  close?(): Promise<void>;
}
