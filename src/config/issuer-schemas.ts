/**
 * Config schemas for the issuers a profile can use. One schema per issuer type; the issuer
 * lives in `src/issuers/<type>.ts`. What a schema can check (ARN shape, tag-key grammar, tag
 * templates, STS's duration bounds) is checked here, at start-up; the few cross-field rules
 * (case-insensitive duplicate tag keys, transitive keys that name no tag) are checked by
 * `createIssuer` in `src/issuers/registry.ts`, also at start-up.
 */
import { type Static, Type } from 'typebox';
import { OneOfByType, Seconds } from './schema-helpers.js';

/** STS's characters for session-tag keys and values: letters, spaces, digits, `_.:/=+-@`. */
const TAG_CHAR = '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]';

/**
 * A session-tag key an operator may define: 1–128 tag characters, not starting with `aws:`
 * (reserved by AWS) nor `keyvend-` (keyvend's own `keyvend-device` / `keyvend-profile`), in
 * any letter case.
 */
export const TAG_KEY_PATTERN = `^(?![aA][wW][sS]:)(?![kK][eE][yY][vV][eE][nN][dD]-)${TAG_CHAR}{1,128}$`;

/**
 * A session-tag value template: literal tag characters and placeholders `${device}`,
 * `${profile}`, `${principal}`, `${user}`, `${attr:NAME}` (a device attribute).
 */
export const TAG_TEMPLATE_PATTERN = `^(${TAG_CHAR}|\\$\\{(device|profile|principal|user|attr:[A-Za-z0-9_.:-]{1,64})\\})*$`;

const RoleArn = Type.String({
  minLength: 20,
  maxLength: 2048,
  pattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\w+=,.@/-]{1,512}$',
  description: 'ARN of the IAM role keyvend assumes, e.g. arn:aws:iam::123456789012:role/app.',
});

const MaxSessionDuration = Seconds({
  minimum: 3600,
  maximum: 43_200,
  default: 3600,
  description:
    "The role's MaxSessionDuration (IAM default 3600). Requested TTLs are clamped to it, since STS refuses longer sessions.",
});

const TagTemplates = (description: string) =>
  Type.Record(
    Type.String({ pattern: TAG_KEY_PATTERN }),
    Type.String({ maxLength: 256, pattern: TAG_TEMPLATE_PATTERN }),
    { default: {}, maxProperties: 48, additionalProperties: false, description },
  );

const TransitiveTagKeys = Type.Array(Type.String({ minLength: 1, maxLength: 128 }), {
  default: [],
  maxItems: 50,
  description: 'Session tags that survive role chaining; each must name a tag of this issuer.',
});

export const FederationTokenIssuerSchema = Type.Object(
  { type: Type.Literal('federation-token') },
  {
    additionalProperties: false,
    description:
      "STS GetFederationToken with keyvend's own IAM-user credentials; the rendered policy is the session policy.",
  },
);

export const AssumeRoleIssuerSchema = Type.Object(
  {
    type: Type.Literal('assume-role'),
    roleArn: RoleArn,
    externalId: Type.Optional(
      Type.String({
        minLength: 2,
        maxLength: 1224,
        pattern: '^[\\w+=,.@:/-]*$',
        description: "sts:ExternalId, when the role's trust policy requires one.",
      }),
    ),
    maxSessionDuration: MaxSessionDuration,
    sessionTags: TagTemplates(
      'Session tags beyond keyvend-device and keyvend-profile, key → template, e.g. {"email": "${attr:email}"}. A tag whose attribute the device lacks is left out.',
    ),
    transitiveTagKeys: TransitiveTagKeys,
    sourceIdentity: Type.Boolean({
      default: true,
      description:
        'Set SourceIdentity to the principal name (needs sts:SetSourceIdentity in the trust policy).',
    }),
  },
  {
    additionalProperties: false,
    description:
      'STS AssumeRole with a session policy and session tags; runs on the SDK default credential chain (instance or task role), no long-term key needed.',
  },
);

export const WebIdentityIssuerSchema = Type.Object(
  {
    type: Type.Literal('web-identity'),
    roleArn: RoleArn,
    audience: Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        "The `aud` of keyvend's ID tokens: a client ID registered on the IAM OIDC provider.",
    }),
    mode: Type.Union([Type.Literal('server'), Type.Literal('client')], {
      default: 'server',
      description:
        'server: keyvend calls AssumeRoleWithWebIdentity itself. client: keyvend hands the ID token and role ARN to the client, which calls STS.',
    }),
    tokenTtlSeconds: Seconds({
      minimum: 60,
      maximum: 3600,
      default: 300,
      description: "Lifetime of keyvend's ID tokens.",
    }),
    maxSessionDuration: MaxSessionDuration,
    claimTags: TagTemplates(
      'Session tags carried in the https://aws.amazon.com/tags claim beyond keyvend-device and keyvend-profile, key → template.',
    ),
    transitiveTagKeys: TransitiveTagKeys,
  },
  {
    additionalProperties: false,
    description:
      'keyvend acts as an OpenID Connect provider; STS AssumeRoleWithWebIdentity trusts its ID tokens. No AWS credentials needed.',
  },
);

export const IssuerSchema = OneOfByType([
  FederationTokenIssuerSchema,
  AssumeRoleIssuerSchema,
  WebIdentityIssuerSchema,
]);

export type FederationTokenIssuerConfig = Static<typeof FederationTokenIssuerSchema>;
export type AssumeRoleIssuerConfig = Static<typeof AssumeRoleIssuerSchema>;
export type WebIdentityIssuerConfig = Static<typeof WebIdentityIssuerSchema>;
export type IssuerConfig =
  | FederationTokenIssuerConfig
  | AssumeRoleIssuerConfig
  | WebIdentityIssuerConfig;
