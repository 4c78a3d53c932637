/**
 * The `web-identity` issuer: keyvend acts as an OpenID Connect provider (discovery document
 * and JWKS in `src/routes/oidc-provider.ts`) and an IAM role trusts it through an IAM OIDC
 * provider for keyvend's issuer URL. For each issuance keyvend signs a short-lived ID token
 * (RS256, the algorithm every STS OIDC integration accepts) with its `oidc` key ring:
 * `sub` = principal name, `aud` = the configured audience, session tags in the
 * `https://aws.amazon.com/tags` claim.
 *
 * - `mode: 'server'`: keyvend trades the token itself with AssumeRoleWithWebIdentity. The
 *   operation is unsigned, so keyvend needs no AWS credentials at all.
 * - `mode: 'client'`: the vend service hands the client a `WebIdentityGrant` (token, role
 *   ARN, session name, policy) and the client calls STS. `issue()` still works in this mode.
 */
import { randomUUID } from 'node:crypto';
import {
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandInput,
  type STSClient,
} from '@aws-sdk/client-sts';
import { type JWK, SignJWT } from 'jose';
import type { WebIdentityIssuerConfig } from '../config/issuer-schemas.js';
import type { StsIssuerDeps } from './federation-token.js';
import type { IssuedCredentials, IssueRequest, Issuer, WebIdentityGrant } from './issuer.js';
import { Resilience } from './resilience.js';
import { buildSessionTags, presentTransitiveKeys } from './session-tags.js';
import { callSts, checkPrincipalName, fromAssumedRole } from './sts-call.js';

/** The claim STS reads session tags from. */
export const AWS_TAGS_CLAIM = 'https://aws.amazon.com/tags';
/** The one signing algorithm keyvend's OIDC provider uses and advertises. */
export const OIDC_SIGNING_ALG = 'RS256';

type MaybePromise<T> = T | Promise<T>;

/** The signing keys of keyvend's OIDC provider (`KeyRing` with use `oidc` satisfies it). */
export interface OidcKeySource {
  /** The key that signs new ID tokens. */
  current(): MaybePromise<{ kid: string; alg: string; privateKey: Parameters<SignJWT['sign']>[0] }>;
  /** Every published public key (current and still-overlapping retired ones). */
  jwks(): MaybePromise<{ keys: JWK[] }>;
}

export interface WebIdentityIssuerDeps extends StsIssuerDeps {
  /** keyvend's OIDC keys (use `oidc`, alg RS256). */
  keys: OidcKeySource;
  /**
   * keyvend's OIDC issuer URL (`iss`), e.g. `https://keyvend.example.com`; a function is read
   * per token (for a server whose port is known only once it listens).
   */
  issuerUrl: string | (() => string);
  clock?: () => Date;
}

/** What a `mode: 'client'` issuer hands to the client, which calls STS itself. */
export type { WebIdentityGrant } from './issuer.js';

const OPERATION = 'sts:AssumeRoleWithWebIdentity';
const MAX_SESSION_NAME = 64;

/** Mints keyvend ID tokens and trades them with AssumeRoleWithWebIdentity. */
export class WebIdentityIssuer implements Issuer {
  readonly type = 'web-identity';
  /** Who calls STS: keyvend (`server`) or the client (`client`, via `grant()`). */
  readonly mode: 'server' | 'client';
  /** The role's MaxSessionDuration: the longest TTL this issuer can grant. */
  readonly maxDurationSeconds: number;
  readonly #config: WebIdentityIssuerConfig;
  readonly #sts: STSClient;
  readonly #resilience: Resilience;
  readonly #keys: OidcKeySource;
  readonly #issuerUrl: () => string;
  readonly #clock: () => Date;

  constructor(config: WebIdentityIssuerConfig, deps: WebIdentityIssuerDeps) {
    this.#config = config;
    this.mode = config.mode;
    this.maxDurationSeconds = config.maxSessionDuration;
    this.#sts = deps.sts;
    this.#resilience = deps.resilience ?? new Resilience();
    this.#keys = deps.keys;
    const url = deps.issuerUrl;
    this.#issuerUrl = typeof url === 'function' ? url : () => url;
    this.#clock = deps.clock ?? (() => new Date());
  }

  /**
   * Signs an ID token for the request's principal.
   *
   * @throws `KEYVEND_SESSION_TAGS_INVALID` (403) when the device's tags break STS's rules.
   */
  async mintIdToken(request: IssueRequest): Promise<{ token: string; expiration: Date }> {
    checkPrincipalName(request.principalName, MAX_SESSION_NAME);
    const tags = buildSessionTags(this.#config.claimTags, request);
    const transitive = presentTransitiveKeys(this.#config.transitiveTagKeys, tags);
    const key = await this.#keys.current();
    const now = Math.floor(this.#clock().getTime() / 1000);
    const exp = now + this.#config.tokenTtlSeconds;
    const token = await new SignJWT({
      [AWS_TAGS_CLAIM]: {
        principal_tags: Object.fromEntries(tags.map((t) => [t.key, [t.value]])),
        ...(transitive.length === 0 ? {} : { transitive_tag_keys: transitive }),
      },
    })
      .setProtectedHeader({ alg: OIDC_SIGNING_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.#issuerUrl().replace(/\/+$/, ''))
      .setSubject(request.principalName)
      .setAudience(this.#config.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiration: new Date(exp * 1000) };
  }

  /** What a client needs to call AssumeRoleWithWebIdentity itself (`mode: 'client'`). */
  async grant(request: IssueRequest): Promise<WebIdentityGrant> {
    const { token, expiration } = await this.mintIdToken(request);
    return {
      roleArn: this.#config.roleArn,
      roleSessionName: request.principalName,
      webIdentityToken: token,
      tokenExpiration: expiration,
      durationSeconds: Math.min(request.durationSeconds, this.maxDurationSeconds),
      ...(request.policy === undefined ? {} : { policy: request.policy }),
      policyArns: [...request.policyArns],
    };
  }

  /** Mints a token and trades it with AssumeRoleWithWebIdentity (unsigned: no AWS keys). */
  async issue(request: IssueRequest): Promise<IssuedCredentials> {
    const grant = await this.grant(request);
    const input: AssumeRoleWithWebIdentityCommandInput = {
      RoleArn: grant.roleArn,
      RoleSessionName: grant.roleSessionName,
      WebIdentityToken: grant.webIdentityToken,
      DurationSeconds: grant.durationSeconds,
      ...(grant.policy === undefined ? {} : { Policy: grant.policy }),
      ...(grant.policyArns.length === 0
        ? {}
        : { PolicyArns: grant.policyArns.map((arn) => ({ arn })) }),
    };
    const send = () => this.#sts.send(new AssumeRoleWithWebIdentityCommand(input));
    const out = await callSts(this.#resilience, send, {
      operation: OPERATION,
      templateName: request.templateName,
    });
    return fromAssumedRole(out, OPERATION);
  }
}
