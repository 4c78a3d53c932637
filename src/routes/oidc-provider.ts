/**
 * keyvend as an OpenID Connect provider, for the `web-identity` issuer: the discovery document
 * at `GET /.well-known/openid-configuration` and the ID-token signing keys at
 * `GET /oidc/jwks.json` (separate from the registration-token JWKS). STS fetches both when it
 * verifies a keyvend ID token; an IAM OIDC provider for `issuerUrl` makes the role trust them.
 * Rotation keeps the retired key published until its tokens have expired (overlap).
 *
 * @example
 * ```ts
 * app.register(oidcProviderRoutes, { issuerUrl: 'https://keyvend.example.com', keyRing: oidcKeys });
 * ```
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AWS_TAGS_CLAIM, OIDC_SIGNING_ALG, type OidcKeySource } from '../issuers/web-identity.js';

export interface OidcProviderOptions {
  /**
   * The `iss` of keyvend's ID tokens: scheme, host and optional path. A function is read on
   * each request (for a server whose port is known only once it listens).
   */
  issuerUrl: string | (() => string);
  /** keyvend's OIDC keys (`KeyRing` with use `oidc`). */
  keyRing: OidcKeySource;
}

export const JWKS_PATH = '/oidc/jwks.json';
export const DISCOVERY_PATH = '/.well-known/openid-configuration';

const CACHE_CONTROL = 'public, max-age=300';

const Discovery = Type.Object({
  issuer: Type.String(),
  jwks_uri: Type.String(),
  id_token_signing_alg_values_supported: Type.Array(Type.String()),
  response_types_supported: Type.Array(Type.String()),
  subject_types_supported: Type.Array(Type.String()),
  claims_supported: Type.Array(Type.String()),
});

const Jwks = Type.Object({
  keys: Type.Array(Type.Object({}, { additionalProperties: true })),
});

/** Registers the discovery document and the OIDC JWKS. */
export async function oidcProviderRoutes(
  app: FastifyInstance,
  opts: OidcProviderOptions,
): Promise<void> {
  const issuerUrl = opts.issuerUrl;
  const discovery = () => {
    const issuer = (typeof issuerUrl === 'function' ? issuerUrl() : issuerUrl).replace(/\/+$/, '');
    return {
      issuer,
      jwks_uri: `${issuer}${JWKS_PATH}`,
      id_token_signing_alg_values_supported: [OIDC_SIGNING_ALG],
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', AWS_TAGS_CLAIM],
    };
  };

  app.get(
    DISCOVERY_PATH,
    {
      schema: {
        summary: "OpenID Connect discovery for keyvend's ID tokens (web-identity issuer)",
        tags: ['oidc'],
        response: { 200: Discovery },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', CACHE_CONTROL);
      return discovery();
    },
  );

  app.get(
    JWKS_PATH,
    {
      schema: {
        summary: "Public keys that verify keyvend's ID tokens",
        tags: ['oidc'],
        response: { 200: Jwks },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', CACHE_CONTROL);
      const { keys } = await opts.keyRing.jwks();
      return { keys };
    },
  );
}
