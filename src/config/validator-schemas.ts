/**
 * Config schemas for the validators a profile can list. One schema per validator type; the
 * validator's implementation lives in `src/validators/<type>.ts` and is registered in
 * `src/validators/registry.ts`.
 *
 * A property named `<name>Env` holds the name of an environment variable; the config loader
 * reads that variable and stores its value as a non-enumerable `<name>` property, so secrets
 * never appear when the config is logged or serialised.
 */
import { type Static, Type } from 'typebox';
import { OneOfByType } from './schema-helpers.js';

const Id = Type.String({
  pattern: '^[a-z][a-z0-9-]{0,62}$',
  description:
    'Names this validator within the profile; the key under which a client sends its answer. Defaults to the type.',
});

export const NoneValidatorSchema = Type.Object(
  { type: Type.Literal('none'), id: Type.Optional(Id) },
  {
    additionalProperties: false,
    description: 'Always passes. Use only for trusted networks or demos.',
  },
);

export const CaptchaValidatorSchema = Type.Object(
  {
    type: Type.Literal('captcha'),
    id: Type.Optional(Id),
    provider: Type.Union(
      [Type.Literal('recaptcha'), Type.Literal('hcaptcha'), Type.Literal('turnstile')],
      { description: 'Which captcha service; all three speak the same siteverify protocol.' },
    ),
    siteKey: Type.String({ minLength: 1, description: 'Public site key the client widget shows.' }),
    secretEnv: Type.String({
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      description: 'Environment variable holding the siteverify secret.',
    }),
    verifyUrl: Type.Optional(
      Type.String({ format: 'uri', description: "Overrides the provider's siteverify URL." }),
    ),
    minScore: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'reCAPTCHA v3: lowest accepted score.' }),
    ),
    expectedAction: Type.Optional(
      Type.String({ minLength: 1, description: 'reCAPTCHA v3 / Turnstile: required action name.' }),
    ),
    expectedHostname: Type.Optional(Type.String({ minLength: 1 })),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
  },
  { additionalProperties: false },
);

/** Validators that are not groups. Issue "Validators" adds proof-of-work, oidc, invite, network, app-secret here. */
export const LeafValidatorSchema = OneOfByType([NoneValidatorSchema, CaptchaValidatorSchema]);

export const AnyOfValidatorSchema = Type.Object(
  {
    type: Type.Literal('anyOf'),
    id: Type.Optional(Id),
    validators: Type.Array(LeafValidatorSchema, { minItems: 1 }),
  },
  { additionalProperties: false, description: 'Passes when any one of its validators passes.' },
);

export const ValidatorSchema = OneOfByType([
  NoneValidatorSchema,
  CaptchaValidatorSchema,
  AnyOfValidatorSchema,
]);

export type NoneValidatorConfig = Static<typeof NoneValidatorSchema>;
export type CaptchaValidatorConfig = Static<typeof CaptchaValidatorSchema> & {
  /** Resolved from `secretEnv` by the loader (non-enumerable). */
  readonly secret: string;
};
export type LeafValidatorConfig = NoneValidatorConfig | CaptchaValidatorConfig;
export type AnyOfValidatorConfig = Static<typeof AnyOfValidatorSchema> & {
  validators: LeafValidatorConfig[];
};
export type ValidatorConfig = LeafValidatorConfig | AnyOfValidatorConfig;
