/**
 * Config schemas for the validators a profile can list. One schema per validator type; the
 * validator's implementation lives in `src/validators/<type>.ts` and is registered in
 * `src/validators/registry.ts`. Checks a schema cannot express (a CIDR that does not parse,
 * two validators answering under one id) live in `checkValidatorConfig`, which the loader
 * runs at start-up so a mistake stops keyvend with a message naming the key.
 *
 * A property named `<name>Env` holds the name of an environment variable; the config loader
 * reads that variable and stores its value as a non-enumerable `<name>` property, so secrets
 * never appear when the config is logged or serialised.
 */
import { BlockList, isIP } from 'node:net';
import { type Static, Type } from 'typebox';
import { OneOfByType } from './schema-helpers.js';

const Id = Type.String({
  pattern: '^[a-z][a-z0-9-]{0,62}$',
  description:
    'Names this validator within the profile; the key under which a client sends its answer. Defaults to the type.',
});

const EnvName = (description: string) =>
  Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description });

const TimeoutMs = Type.Integer({
  minimum: 100,
  maximum: 60_000,
  default: 5000,
  description: 'How long to wait for the remote service, in milliseconds.',
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
    secretEnv: EnvName('Environment variable holding the siteverify secret.'),
    verifyUrl: Type.Optional(
      Type.String({ format: 'uri', description: "Overrides the provider's siteverify URL." }),
    ),
    minScore: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'reCAPTCHA v3: lowest accepted score.' }),
    ),
    expectedAction: Type.Optional(
      Type.String({ minLength: 1, description: 'reCAPTCHA v3 / Turnstile: required action name.' }),
    ),
    expectedHostname: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Hostname the widget must have been solved on (as the provider reports it).',
      }),
    ),
    timeoutMs: TimeoutMs,
  },
  { additionalProperties: false },
);

export const ProofOfWorkValidatorSchema = Type.Object(
  {
    type: Type.Literal('proof-of-work'),
    id: Type.Optional(Id),
    difficulty: Type.Integer({
      minimum: 8,
      maximum: 32,
      default: 16,
      description:
        'Leading zero bits the SHA-256 of the answer must have; each step doubles the client work (16 ≈ 65k hashes, about 1–2 s with WebCrypto).',
    }),
    ttlSeconds: Type.Integer({
      minimum: 30,
      maximum: 3600,
      default: 300,
      description: 'How long an issued puzzle may be answered.',
    }),
  },
  {
    additionalProperties: false,
    description: 'A hashcash puzzle keyvend signs; checking an answer costs one hash.',
  },
);

/** Asymmetric JWS algorithms only: an HMAC algorithm would let the public key act as a secret. */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

export const OidcClaimRuleSchema = Type.Object(
  {
    claim: Type.String({ minLength: 1, maxLength: 256, description: 'Top-level claim name.' }),
    equals: Type.Optional(
      Type.Union([Type.String(), Type.Number(), Type.Boolean()], {
        description: 'The claim must equal this value.',
      }),
    ),
    oneOf: Type.Optional(
      Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        minItems: 1,
        description: 'The claim must equal one of these values.',
      }),
    ),
    suffix: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'The claim must be a string ending with this, e.g. "@example.com".',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'One rule on an ID token claim: exactly one of equals, oneOf, suffix.',
  },
);

export const OidcValidatorSchema = Type.Object(
  {
    type: Type.Literal('oidc'),
    id: Type.Optional(Id),
    issuer: Type.String({
      format: 'uri',
      description:
        'The OpenID Connect issuer, exactly as in its tokens; discovery is read from <issuer>/.well-known/openid-configuration.',
    }),
    audience: Type.Union(
      [
        Type.String({ minLength: 1 }),
        Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 20 }),
      ],
      { description: 'Client id(s) the ID token must be issued for.' },
    ),
    algorithms: Type.Array(Type.Unsafe<OidcAlgorithm>({ enum: [...OIDC_ALGORITHMS] }), {
      minItems: 1,
      default: ['RS256', 'ES256'],
      description: 'Signature algorithms accepted; everything else (none, HS256) is refused.',
    }),
    requireNonce: Type.Boolean({
      default: false,
      description:
        'The answer must carry the nonce the client used at sign-in; the token must hold it, and each nonce works once.',
    }),
    claims: Type.Array(OidcClaimRuleSchema, {
      default: [],
      maxItems: 32,
      description:
        'Rules every ID token must satisfy, e.g. { claim: "email_verified", equals: true }.',
    }),
    clockToleranceSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 60 }),
    timeoutMs: TimeoutMs,
  },
  {
    additionalProperties: false,
    description: 'Registration needs an ID token from an OpenID Connect provider.',
  },
);

export const InviteValidatorSchema = Type.Object(
  { type: Type.Literal('invite'), id: Type.Optional(Id) },
  {
    additionalProperties: false,
    description: 'Registration needs an invite code made with `keyvend invites create`.',
  },
);

export const NetworkValidatorSchema = Type.Object(
  {
    type: Type.Literal('network'),
    id: Type.Optional(Id),
    allow: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'Addresses or CIDRs (IPv4 or IPv6) allowed to register; when set, every other address is refused.',
      }),
    ),
    deny: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Addresses or CIDRs refused; deny wins over allow.',
      }),
    ),
    quota: Type.Optional(
      Type.Object(
        {
          max: Type.Integer({ minimum: 1, description: 'Registrations allowed per window.' }),
          windowSeconds: Type.Integer({ minimum: 1, maximum: 31_536_000, default: 3600 }),
        },
        {
          additionalProperties: false,
          description:
            'Registrations per client address (IPv6: per /64) in a fixed window; kept in the store, so it holds across restarts.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export const AppSecretValidatorSchema = Type.Object(
  {
    type: Type.Literal('app-secret'),
    id: Type.Optional(Id),
    secretEnv: EnvName('Environment variable holding the HMAC secret shipped in the app.'),
    previousSecretEnv: Type.Optional(
      EnvName('Environment variable holding the previous secret, still accepted while rotating.'),
    ),
    toleranceSeconds: Type.Integer({
      minimum: 30,
      maximum: 900,
      default: 300,
      description: 'How far the signature time may be from keyvend’s clock.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'Requests must be signed with a secret built into the app. Weak on its own (an app cannot keep a secret); it stops casual scripts.',
  },
);

const LEAF_SCHEMAS = [
  NoneValidatorSchema,
  CaptchaValidatorSchema,
  ProofOfWorkValidatorSchema,
  OidcValidatorSchema,
  InviteValidatorSchema,
  NetworkValidatorSchema,
  AppSecretValidatorSchema,
] as const;

/** Validators that are not groups. */
export const LeafValidatorSchema = OneOfByType([...LEAF_SCHEMAS]);

export const AnyOfValidatorSchema = Type.Object(
  {
    type: Type.Literal('anyOf'),
    id: Type.Optional(Id),
    validators: Type.Array(LeafValidatorSchema, { minItems: 1 }),
  },
  { additionalProperties: false, description: 'Passes when any one of its validators passes.' },
);

export const ValidatorSchema = OneOfByType([...LEAF_SCHEMAS, AnyOfValidatorSchema]);

export type NoneValidatorConfig = Static<typeof NoneValidatorSchema>;
export type CaptchaValidatorConfig = Static<typeof CaptchaValidatorSchema> & {
  /** Resolved from `secretEnv` by the loader (non-enumerable). */
  readonly secret: string;
};
export type ProofOfWorkValidatorConfig = Static<typeof ProofOfWorkValidatorSchema>;
export type OidcClaimRule = Static<typeof OidcClaimRuleSchema>;
export type OidcValidatorConfig = Static<typeof OidcValidatorSchema>;
export type InviteValidatorConfig = Static<typeof InviteValidatorSchema>;
export type NetworkValidatorConfig = Static<typeof NetworkValidatorSchema>;
export type AppSecretValidatorConfig = Static<typeof AppSecretValidatorSchema> & {
  /** Resolved from `secretEnv` by the loader (non-enumerable). */
  readonly secret: string;
  /** Resolved from `previousSecretEnv` by the loader (non-enumerable), when set. */
  readonly previousSecret?: string;
};
export type LeafValidatorConfig =
  | NoneValidatorConfig
  | CaptchaValidatorConfig
  | ProofOfWorkValidatorConfig
  | OidcValidatorConfig
  | InviteValidatorConfig
  | NetworkValidatorConfig
  | AppSecretValidatorConfig;
export type AnyOfValidatorConfig = Static<typeof AnyOfValidatorSchema> & {
  validators: LeafValidatorConfig[];
};
export type ValidatorConfig = LeafValidatorConfig | AnyOfValidatorConfig;

/**
 * A parsed address or CIDR from a `network` validator's lists: IPv4-mapped IPv6 forms
 * (`::ffff:10.0.0.0/104`) become their IPv4 equivalent. Returns null when it does not parse.
 */
export function parseCidr(
  text: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const slash = text.indexOf('/');
  const addressPart = slash === -1 ? text : text.slice(0, slash);
  const prefixPart = slash === -1 ? undefined : text.slice(slash + 1);
  const version = isIP(addressPart);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (prefixPart !== undefined) {
    if (!/^\d{1,3}$/.test(prefixPart)) return null;
    prefix = Number(prefixPart);
    if (prefix > max) return null;
  }
  if (version === 6) {
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(addressPart);
    if (mapped?.[1] !== undefined && prefix >= 96) {
      return { address: mapped[1], prefix: prefix - 96, family: 'ipv4' };
    }
  }
  return { address: addressPart, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Adds each address or CIDR to a BlockList (entries must already have passed `parseCidr`). */
export function blockListOf(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const parsed = parseCidr(entry);
    if (parsed === null) throw new Error(`not an address or CIDR: ${JSON.stringify(entry)}`);
    list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  return list;
}

/**
 * The checks a schema cannot express, for one validator or a profile's whole list (then ids
 * must also be unique across the list, group members included, because every answer sits in
 * one `answers` object). `path` names the value, e.g. `profiles.mobile.validators`. Returns
 * one message per problem, each starting with the key, e.g.
 * `profiles.mobile.validators[1].allow[0]: "10.0.0.0/33" is not an IP address or CIDR`.
 */
export function checkValidatorConfig(
  config: ValidatorConfig | readonly ValidatorConfig[],
  path: string,
): string[] {
  const problems: string[] = [];
  if (!Array.isArray(config)) {
    checkOne(config as ValidatorConfig, path, problems);
    return problems;
  }
  const list = config as readonly ValidatorConfig[];
  const seen = new Map<string, string>();
  let identityGivers = 0;
  for (const [i, entry] of list.entries()) {
    const entryPath = `${path}[${i}]`;
    checkOne(entry, entryPath, problems);
    const members =
      entry.type === 'anyOf'
        ? entry.validators.map((m, j) => [m, `${entryPath}.validators[${j}]`] as const)
        : [];
    for (const [v, p] of [[entry, entryPath] as const, ...members]) {
      const id = v.id ?? v.type;
      const previous = seen.get(id);
      if (previous !== undefined) {
        problems.push(
          `${p}.id: ${JSON.stringify(id)} is already used by ${previous}; give each validator its own id`,
        );
      } else {
        seen.set(id, p);
      }
    }
    const givesIdentity =
      entry.type === 'oidc' ||
      (entry.type === 'anyOf' && entry.validators.some((m) => m.type === 'oidc'));
    if (givesIdentity) identityGivers += 1;
  }
  if (identityGivers > 1) {
    problems.push(
      `${path}: more than one oidc validator must pass at once; a device has one external identity (put alternatives in an anyOf group)`,
    );
  }
  return problems;
}

function checkOne(config: ValidatorConfig, path: string, problems: string[]): void {
  switch (config.type) {
    case 'network': {
      for (const key of ['allow', 'deny'] as const) {
        for (const [i, entry] of (config[key] ?? []).entries()) {
          if (parseCidr(entry) === null) {
            problems.push(
              `${path}.${key}[${i}]: ${JSON.stringify(entry)} is not an IP address or CIDR`,
            );
          }
        }
      }
      if (config.allow === undefined && config.deny === undefined && config.quota === undefined) {
        problems.push(`${path}: set at least one of allow, deny, quota`);
      }
      return;
    }
    case 'oidc': {
      for (const [i, rule] of config.claims.entries()) {
        const kinds = (['equals', 'oneOf', 'suffix'] as const).filter((k) => rule[k] !== undefined);
        if (kinds.length !== 1) {
          problems.push(`${path}.claims[${i}]: set exactly one of equals, oneOf, suffix`);
        }
      }
      if (!/^https?:\/\//.test(config.issuer)) {
        problems.push(`${path}.issuer: must be an http(s) URL`);
      }
      return;
    }
    case 'anyOf': {
      const members: readonly LeafValidatorConfig[] = config.validators;
      for (const [j, member] of members.entries()) {
        checkOne(member, `${path}.validators[${j}]`, problems);
      }
      return;
    }
    default:
      return;
  }
}
