/**
 * The one schema of `keyvend.json`. Defaults live here; the loader fills them in, validates,
 * resolves `*Env` secrets and freezes the result. `npm run schema` writes it out as
 * `keyvend.schema.json`, which the shipped config names in `$schema` so editors complete it.
 */
import { type Static, Type } from 'typebox';
import { IssuerSchema } from './issuer-schemas.js';
import { OneOfByType, Seconds } from './schema-helpers.js';
import { ValidatorSchema } from './validator-schemas.js';

/** STS's own bounds on GetFederationToken's DurationSeconds. */
export const STS_MIN_TTL = 900;
export const STS_MAX_TTL = 129_600;

const RateLimit = Type.Object(
  {
    max: Type.Integer({ minimum: 1, description: 'Requests allowed per window.' }),
    windowSeconds: Seconds({ minimum: 1, default: 60 }),
  },
  { additionalProperties: false },
);

export const ServerSchema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1', description: 'Address to listen on.' }),
    port: Type.Integer({ minimum: 0, maximum: 65_535, default: 8080 }),
    publicUrl: Type.Optional(
      Type.String({
        format: 'uri',
        description:
          'The URL clients use to reach keyvend (scheme, host, port). Used for DPoP proofs and as the OIDC issuer. Defaults to http://host:port.',
      }),
    ),
    trustedProxies: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed. Empty: the socket address is the client.',
    }),
    bodyLimit: Type.Integer({ minimum: 256, maximum: 1_048_576, default: 16_384 }),
    corsOrigins: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Origins allowed to call keyvend from a browser (e.g. "https://app.example.com"), or ["*"]. Tokens travel in headers, never cookies. Empty: no CORS headers.',
    }),
    requestTimeoutMs: Type.Integer({ minimum: 1000, default: 30_000 }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const SqliteStoreSchema = Type.Object(
  {
    type: Type.Literal('sqlite'),
    path: Type.String({ minLength: 1, default: './data/keyvend.db' }),
  },
  { additionalProperties: false },
);

export const StoreSchema = OneOfByType([SqliteStoreSchema]);

export const LocalAwsSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        "Run keyvend's built-in local STS/IAM endpoint in-process and point the AWS clients at it. Development only.",
    }),
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65_535, default: 0 }),
    accountId: Type.String({ pattern: '^[0-9]{12}$', default: '000000000000' }),
  },
  { additionalProperties: false, default: {} },
);

export const AwsSchema = Type.Object(
  {
    region: Type.Optional(
      Type.String({
        pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$',
        description: 'AWS region; defaults to AWS_REGION from the environment.',
      }),
    ),
    local: LocalAwsSchema,
    maxAttempts: Type.Integer({ minimum: 1, maximum: 10, default: 3 }),
    circuitBreaker: Type.Object(
      {
        failureThreshold: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
        openSeconds: Seconds({ minimum: 1, maximum: 600, default: 10 }),
      },
      {
        additionalProperties: false,
        default: {},
        description:
          'After failureThreshold consecutive failed STS calls, fail fast with 503 for openSeconds, then probe.',
      },
    ),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
  },
  { additionalProperties: false, default: {} },
);

export const TokensSchema = Type.Object(
  {
    issuer: Type.String({ minLength: 1, default: 'keyvend' }),
    audience: Type.String({ minLength: 1, default: 'keyvend' }),
    verifyCacheSize: Type.Integer({ minimum: 0, default: 10_000 }),
  },
  { additionalProperties: false, default: {} },
);

export const CredentialCacheSchema = Type.Object(
  {
    maxEntries: Type.Integer({ minimum: 0, default: 10_000 }),
    minRemainingSeconds: Seconds({
      minimum: 0,
      default: 300,
      description:
        'Cached credentials are handed out only while at least this much lifetime remains.',
    }),
    refreshShare: Type.Number({
      minimum: 0,
      maximum: 0.9,
      default: 0.25,
      description:
        'Mint anew once less than this share of the lifetime remains; until then the cached set is served.',
    }),
    outageFloorSeconds: Seconds({
      minimum: 0,
      default: 60,
      description:
        'While STS fails, cached credentials inside the refresh window are still served until this much lifetime remains.',
    }),
  },
  { additionalProperties: false, default: {} },
);

export const ProfileSchema = Type.Object(
  {
    description: Type.Optional(Type.String()),
    validators: Type.Array(ValidatorSchema, {
      minItems: 1,
      description:
        'Checks run at registration; all must pass (use an anyOf group for alternatives).',
    }),
    issuer: IssuerSchema,
    policy: Type.String({
      pattern: '^[A-Za-z0-9._-]+\\.json$',
      description: 'Template file in the policies directory.',
    }),
    managedPolicyArns: Type.Array(Type.String({ minLength: 20, maxLength: 2048 }), {
      maxItems: 10,
      default: [],
    }),
    params: Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]{0,63}$' }), Type.String(), {
      default: {},
      description: 'Values for ${keyvend:param/NAME} in the template (safe characters only).',
    }),
    ttl: Type.Object(
      {
        default: Seconds({ minimum: STS_MIN_TTL, maximum: STS_MAX_TTL, default: 3600 }),
        max: Seconds({ minimum: STS_MIN_TTL, maximum: STS_MAX_TTL, default: 43_200 }),
      },
      { additionalProperties: false, default: {} },
    ),
    tokenTtl: Seconds({
      minimum: 60,
      default: 31_536_000,
      description: 'Lifetime of registration tokens (seconds).',
    }),
    requireKeyBinding: Type.Boolean({ default: false }),
    rateLimits: Type.Object(
      {
        register: Type.Optional(RateLimit),
        vend: Type.Optional(RateLimit),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    server: ServerSchema,
    store: Type.Unsafe<Static<typeof StoreSchema>>({
      ...StoreSchema,
      default: { type: 'sqlite' },
    }),
    aws: AwsSchema,
    tokens: TokensSchema,
    credentialCache: CredentialCacheSchema,
    policiesDir: Type.String({ minLength: 1, default: './policies' }),
    profiles: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' }), ProfileSchema, {
      minProperties: 1,
    }),
  },
  { additionalProperties: false },
);

export type ServerConfig = Static<typeof ServerSchema>;
export type StoreConfig = Static<typeof StoreSchema>;
export type AwsConfig = Static<typeof AwsSchema>;
export type TokensConfig = Static<typeof TokensSchema>;
export type CredentialCacheConfig = Static<typeof CredentialCacheSchema>;
export type ProfileConfig = Omit<Static<typeof ProfileSchema>, 'validators' | 'issuer'> & {
  validators: import('./validator-schemas.js').ValidatorConfig[];
  issuer: import('./issuer-schemas.js').IssuerConfig;
};
export type Config = Omit<Static<typeof ConfigSchema>, 'profiles'> & {
  /** Absolute path of the file the config was read from (or '<inline>'). */
  readonly file: string;
  /** Absolute directory the config file's relative paths are resolved against. */
  readonly baseDir: string;
  profiles: Record<string, ProfileConfig>;
};
