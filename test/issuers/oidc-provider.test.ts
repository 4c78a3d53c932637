/**
 * keyvend as an OpenID Connect provider: the discovery document and JWKS served by the real
 * route plugin on a loopback port, and ID tokens minted by the web-identity issuer with a real
 * `oidc` KeyRing over an in-memory SQLite store, verified the way STS verifies them (discover,
 * fetch the JWKS, check signature, issuer, audience, expiry). The STS side of the exchange is
 * in web-identity.test.ts.
 */
import type { STSClient } from '@aws-sdk/client-sts';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebIdentityIssuerConfig } from '../../src/config/issuer-schemas.js';
import { createStsClient } from '../../src/issuers/aws-clients.js';
import { createIssuer } from '../../src/issuers/registry.js';
import { AWS_TAGS_CLAIM, WebIdentityIssuer } from '../../src/issuers/web-identity.js';
import { roleSessionName } from '../../src/policy/principal-name.js';
import type { KeyRing } from '../../src/tokens/key-ring.js';
import {
  awsConfig,
  device,
  devicePolicy,
  issueRequest,
  type OidcProviderServer,
  startOidcProvider,
} from './fixtures.js';

let provider: OidcProviderServer;
let keyRing: KeyRing;
let issuerUrl: string;
let sts: STSClient;

const config: WebIdentityIssuerConfig = {
  type: 'web-identity',
  roleArn: 'arn:aws:iam::000000000000:role/devices',
  audience: 'keyvend-devices',
  mode: 'client',
  tokenTtlSeconds: 300,
  maxSessionDuration: 3600,
  claimTags: { email: '${attr:email}' },
  transitiveTagKeys: ['email'],
};

beforeAll(async () => {
  provider = await startOidcProvider();
  ({ keyRing, url: issuerUrl } = provider);
  sts = createStsClient(awsConfig(), { endpoint: 'http://127.0.0.1:9' });
});
afterAll(async () => {
  sts.destroy();
  await provider.close();
});

function webIdentity(): WebIdentityIssuer {
  const issuer = createIssuer(config, { sts, oidc: { keyRing, issuerUrl } });
  if (!(issuer instanceof WebIdentityIssuer)) throw new Error('not a web-identity issuer');
  return issuer;
}

function requestFor(id: string, attributes: Record<string, string> = {}) {
  const dev = device(id, { attributes });
  return issueRequest(dev, roleSessionName(dev.id), {
    policy: devicePolicy('app-data', id),
    durationSeconds: 7200,
  });
}

/** Verifies a token as STS does: discovery → jwks_uri → signature and claims. */
async function verifyLikeSts(token: string, audience = config.audience) {
  const discovery = (await (
    await fetch(`${issuerUrl}/.well-known/openid-configuration`)
  ).json()) as { issuer: string; jwks_uri: string };
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  return jwtVerify(token, jwks, { issuer: discovery.issuer, audience, algorithms: ['RS256'] });
}

describe('OIDC provider routes', () => {
  it('serve a discovery document naming the issuer, the JWKS and RS256', async () => {
    const res = await fetch(`${issuerUrl}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/max-age/);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toEqual({
      issuer: issuerUrl,
      jwks_uri: `${issuerUrl}/oidc/jwks.json`,
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      claims_supported: expect.arrayContaining(['sub', 'aud', AWS_TAGS_CLAIM]),
    });
  });

  it('serve public RSA keys only in the JWKS', async () => {
    const res = await fetch(`${issuerUrl}/oidc/jwks.json`);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(key.kid).toEqual(expect.any(String));
      expect(key).not.toHaveProperty('d');
      expect(key).not.toHaveProperty('p');
    }
  });
});

describe('WebIdentityIssuer ID tokens', () => {
  it('carry sub = principal, the audience, a short expiry and the session tags claim', async () => {
    const request = requestFor('d-oidc1', { email: 'ann@example.com' });
    const grant = await webIdentity().grant(request);
    const { payload, protectedHeader } = await verifyLikeSts(grant.webIdentityToken);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: keyRing.current().kid });
    expect(payload.sub).toBe(request.principalName);
    expect(payload.aud).toBe(config.audience);
    expect(payload.iss).toBe(issuerUrl);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
    expect(payload[AWS_TAGS_CLAIM]).toEqual({
      principal_tags: {
        'keyvend-device': ['d-oidc1'],
        'keyvend-profile': ['mobile'],
        email: ['ann@example.com'],
      },
      transitive_tag_keys: ['email'],
    });
  });

  it('hand a client-mode grant with the role, session name, policy and clamped TTL', async () => {
    const request = requestFor('d-oidc2');
    const grant = await webIdentity().grant(request);
    expect(grant).toMatchObject({
      roleArn: config.roleArn,
      roleSessionName: request.principalName,
      durationSeconds: 3600,
      policy: request.policy,
      policyArns: [],
    });
    expect(grant.tokenExpiration.getTime()).toBeGreaterThan(Date.now());
    expect(webIdentity().mode).toBe('client');
  });

  it('are refused for another audience', async () => {
    const grant = await webIdentity().grant(requestFor('d-oidc3'));
    await expect(verifyLikeSts(grant.webIdentityToken, 'someone-else')).rejects.toThrow();
  });

  it('keep verifying after a key rotation while new tokens use the new key', async () => {
    const before = await webIdentity().grant(requestFor('d-rot'));
    const oldKid = decodeProtectedHeader(before.webIdentityToken).kid;
    await keyRing.rotate();
    const after = await webIdentity().grant(requestFor('d-rot'));
    const newKid = decodeProtectedHeader(after.webIdentityToken).kid;
    expect(newKid).not.toBe(oldKid);
    await expect(verifyLikeSts(before.webIdentityToken)).resolves.toBeDefined();
    await expect(verifyLikeSts(after.webIdentityToken)).resolves.toBeDefined();
  });
});

describe('createIssuer for web-identity', () => {
  it('refuses to build without the OIDC provider', () => {
    expect(() => createIssuer(config, { sts })).toThrow(/OIDC provider/);
  });

  it('refuses tag keys equal ignoring case and transitive keys that name no tag', () => {
    expect(() =>
      createIssuer(
        { ...config, claimTags: { Email: 'a', email: 'b' }, transitiveTagKeys: ['nope'] },
        { sts, oidc: { keyRing, issuerUrl } },
      ),
    ).toThrow(/claimTags\.email: same key as Email[\s\S]*transitiveTagKeys\[0\]/);
  });
});
