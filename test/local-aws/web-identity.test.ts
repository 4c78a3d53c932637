import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalAws, RoleInfo } from '../../src/local-aws/index.js';
import { credsOf, REGION, rejectionOf, startQuiet, stsFor } from './fixtures.js';

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** A tiny OpenID Connect issuer: discovery + JWKS, counting fetches. */
class Issuer {
  server!: Server;
  url = '';
  jwks: JWK[] = [];
  jwksFetches = 0;
  hang = false;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (this.hang) return;
      if (req.url === '/oidc/.well-known/openid-configuration') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: this.url, jwks_uri: `${this.url}/jwks` }));
      } else if (req.url === '/oidc/jwks') {
        this.jwksFetches += 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: this.jwks }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/oidc`;
  }

  async addKey(kid: string, alg: 'RS256' | 'ES256'): Promise<Key> {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    this.jwks.push({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' });
    return privateKey;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const issuer = new Issuer();
let aws: LocalAws;
let role: RoleInfo;
let rsKey: Key;
let hostPath: string;
const anonymous = () =>
  new STSClient({
    region: REGION,
    endpoint: aws.url,
    maxAttempts: 1,
    credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
  });

async function token(claims: JWTPayload = {}, key: Key = rsKey, kid = 'rs-1', alg = 'RS256') {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    sub: 'user-1',
    aud: 'mobile-app',
    iss: issuer.url,
    iat: now,
    exp: now + 600,
    ...claims,
  })
    .setProtectedHeader({ alg, kid })
    .sign(key);
}

const assume = async (webToken: string, extra: object = {}) =>
  anonymous().send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: role.arn,
      RoleSessionName: 'web-1',
      WebIdentityToken: webToken,
      ...extra,
    }),
  );

beforeAll(async () => {
  await issuer.start();
  rsKey = await issuer.addKey('rs-1', 'RS256');
  aws = await startQuiet({ oidcFetchTimeoutMs: 300 });
  const provider = aws.control.createOpenIdConnectProvider({
    url: issuer.url,
    clientIds: ['mobile-app'],
  });
  hostPath = issuer.url.replace('http://', '');
  expect(provider.arn).toBe(`arn:aws:iam::000000000000:oidc-provider/${hostPath}`);
  role = aws.control.createRole('web-role', {
    trustPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: provider.arn },
          Action: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'],
          Condition: {
            StringEquals: { [`${hostPath}:aud`]: 'mobile-app' },
            StringLike: { [`${hostPath}:sub`]: 'user-*' },
          },
        },
      ],
    },
  });
});
afterAll(async () => {
  await aws.close();
  await issuer.close();
});
beforeEach(() => {
  aws.control.reset();
  issuer.hang = false;
});

describe('AssumeRoleWithWebIdentity', () => {
  it('verifies the token, unsigned, and issues an assumed-role session', async () => {
    const answer = await assume(await token());
    expect(answer.SubjectFromWebIdentityToken).toBe('user-1');
    expect(answer.Audience).toBe('mobile-app');
    expect(answer.Provider).toBe(issuer.url);
    expect(answer.AssumedRoleUser?.Arn).toBe(
      'arn:aws:sts::000000000000:assumed-role/web-role/web-1',
    );
    const [record] = aws.control.requests();
    expect(record?.accessKeyId).toBeUndefined();
    expect(record?.params.WebIdentityToken).toBe('***');
    const who = await stsFor(aws, credsOf(answer)).send(new GetCallerIdentityCommand({}));
    expect(who.UserId).toBe(`${role.roleId}:web-1`);
  });

  it('accepts ES256 and takes session tags from the https://aws.amazon.com/tags claim', async () => {
    const esKey = await issuer.addKey('es-1', 'ES256');
    const answer = await assume(
      await token(
        {
          'https://aws.amazon.com/tags': {
            principal_tags: { 'keyvend-device': ['d7'] },
            transitive_tag_keys: ['keyvend-device'],
          },
        },
        esKey,
        'es-1',
        'ES256',
      ),
    );
    const session = aws.control
      .sessions()
      .find((s) => s.accessKeyId === answer.Credentials?.AccessKeyId);
    expect(session?.tags).toEqual([{ key: 'keyvend-device', value: 'd7' }]);
    expect(session?.transitiveTagKeys).toEqual(['keyvend-device']);
  });

  it('refetches the JWKS once for an unknown kid, then caches it', async () => {
    await assume(await token());
    const before = issuer.jwksFetches;
    await assume(await token());
    expect(issuer.jwksFetches).toBe(before);
    const rotated = await issuer.addKey('rs-2', 'RS256');
    await assume(await token({}, rotated, 'rs-2'));
    expect(issuer.jwksFetches).toBe(before + 1);
  });

  it('refetches at most once per cooldown however many unknown kids arrive', async () => {
    await assume(await token());
    const before = issuer.jwksFetches;
    for (const kid of ['made-up-1', 'made-up-2', 'made-up-3']) {
      const error = await rejectionOf(assume(await token({}, rsKey, kid)));
      expect(error.name).toBe('InvalidIdentityTokenException');
    }
    expect(issuer.jwksFetches).toBe(before + 1);
  });

  it('answers InvalidIdentityToken for a bad signature, an unknown issuer, a foreign audience, a non-JWT', async () => {
    const { privateKey: stranger } = await generateKeyPair('RS256');
    const cases = [
      await token({}, stranger),
      await token({ iss: 'https://unknown.example.com' }),
      await token({ aud: 'other-app' }),
      'not-a-jwt-at-all',
    ];
    for (const t of cases) {
      const error = await rejectionOf(assume(t));
      expect(error.name).toBe('InvalidIdentityTokenException');
      expect(error.$metadata?.httpStatusCode).toBe(400);
      expect(error.message).not.toContain(t);
    }
  });

  it('answers ExpiredTokenException for an expired token and IDPRejectedClaim for one not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await rejectionOf(assume(await token({ iat: now - 700, exp: now - 100 })));
    expect(expired.name).toBe('ExpiredTokenException');
    expect(expired.$metadata?.httpStatusCode).toBe(400);
    const early = await rejectionOf(assume(await token({ nbf: now + 3600, exp: now + 7200 })));
    expect(early.name).toBe('IDPRejectedClaimException');
    expect(early.$metadata?.httpStatusCode).toBe(403);
  });

  it('answers AccessDenied when the trust policy conditions do not match', async () => {
    const error = await rejectionOf(assume(await token({ sub: 'admin-1' })));
    expect(error.name).toBe('AccessDenied');
    expect(error.$metadata?.httpStatusCode).toBe(403);
  });

  it('answers IDPCommunicationError when the issuer does not answer in time', async () => {
    issuer.hang = true;
    const error = await rejectionOf(assume(await token()));
    expect(error.name).toBe('IDPCommunicationErrorException');
  });

  it('masks the token in validation messages', async () => {
    const error = await rejectionOf(assume('abc'));
    expect(error.name).toBe('ValidationError');
    expect(error.message).toContain("Value '***' at 'webIdentityToken'");
  });
});
