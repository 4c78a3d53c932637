/**
 * `POST /v1/credentials` — trade a registration token (and a DPoP proof, for key-bound devices)
 * for short-lived AWS credentials. Never cached by intermediaries (`Cache-Control: no-store`).
 * Rate-limited per device (limits per profile): the token is checked first, in `onRequest`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { KeyvendError } from '../errors.js';
import type { Services } from '../services/build-services.js';
import type { AuthenticatedDevice, VendResult } from '../services/vend-credentials.js';
import { errorResponses } from './schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the credentials route's onRequest hook once the registration token checks out. */
    keyvendDevice?: AuthenticatedDevice;
  }
}

const VendBody = Type.Union([
  Type.Object(
    {
      ttl: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 1_000_000,
          description:
            'Requested lifetime in seconds; clamped to the profile maximum and to 900–129600.',
        }),
      ),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

export const CredentialsReply = Type.Object({
  AccessKeyId: Type.String(),
  SecretAccessKey: Type.String(),
  SessionToken: Type.String(),
  Expiration: Type.String({ format: 'date-time' }),
  Region: Type.String(),
  AccountId: Type.Optional(Type.String()),
  PrincipalArn: Type.Optional(Type.String()),
  DeviceId: Type.String(),
  Profile: Type.String(),
});

export const GrantReply = Type.Object(
  {
    WebIdentityToken: Type.String({ description: "keyvend's ID token for STS." }),
    RoleArn: Type.String(),
    RoleSessionName: Type.String(),
    DurationSeconds: Type.Integer(),
    Policy: Type.Optional(Type.String()),
    PolicyArns: Type.Array(Type.String()),
    TokenExpiration: Type.String({ format: 'date-time' }),
    Region: Type.String(),
    DeviceId: Type.String(),
    Profile: Type.String(),
  },
  {
    description:
      'web-identity profiles in client mode: call STS AssumeRoleWithWebIdentity with these values.',
  },
);

export async function credentialRoutes(
  app: FastifyInstance,
  opts: { services: Services },
): Promise<void> {
  const { services } = opts;
  // A cached vend returns the same answer object each time: serialise it once.
  const bodies = new WeakMap<VendResult, string>();
  app.post(
    '/v1/credentials',
    {
      schema: {
        summary: 'Get temporary AWS credentials for a registered device',
        tags: ['credentials'],
        headers: Type.Object({
          authorization: Type.Optional(Type.String({ description: 'Bearer <registration token>' })),
          dpop: Type.Optional(Type.String({ description: 'DPoP proof (key-bound devices)' })),
        }),
        body: Type.Optional(VendBody),
        response: {
          200: CredentialsReply,
          ...errorResponses(400, 401, 403, 413, 415, 429, 502, 503),
        },
      },
      onRequest: async (request) => {
        request.keyvendDevice = await services.vend.authenticate(request.headers.authorization);
      },
      config: {
        rateLimit: {
          hook: 'preHandler',
          keyGenerator: (req) => `vend:${req.keyvendDevice?.device.id ?? req.ip}`,
          max: (req) => req.keyvendDevice?.profile.rateLimits.vend?.max ?? 120,
          timeWindow: (req) =>
            (req.keyvendDevice?.profile.rateLimits.vend?.windowSeconds ?? 60) * 1000,
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { ttl?: number } | null | undefined;
      const known = request.keyvendDevice;
      const input = {
        authorization: request.headers.authorization,
        dpop: header(request, 'dpop'),
        method: request.method,
        // Only a key-bound token's DPoP proof is checked against the URL.
        url:
          known !== undefined && known.claims.jkt === undefined
            ? undefined
            : requestUrl(request, services.config.server.publicUrl),
        clientIp: request.ip,
        ttlSeconds: body?.ttl,
      };
      reply.header('cache-control', 'no-store');
      reply.header('pragma', 'no-cache');
      if (known?.profile.issuer.type === 'web-identity' && known.profile.issuer.mode === 'client') {
        const grant = await services.vend.grant(input, known);
        // fast-json-stringify picks the first anyOf member here; the grant has its own shape.
        reply.serializer((payload) => JSON.stringify(payload));
        return {
          WebIdentityToken: grant.webIdentityToken,
          RoleArn: grant.roleArn,
          RoleSessionName: grant.roleSessionName,
          DurationSeconds: grant.durationSeconds,
          Policy: grant.policy,
          PolicyArns: grant.policyArns,
          TokenExpiration: grant.tokenExpiration.toISOString(),
          Region: grant.region,
          DeviceId: grant.deviceId,
          Profile: grant.profile,
        };
      }
      const result = await services.vend.vend(input, known);
      let json = bodies.get(result);
      if (json === undefined) {
        json = reply.serializeInput(
          {
            AccessKeyId: result.accessKeyId,
            SecretAccessKey: result.secretAccessKey,
            SessionToken: result.sessionToken,
            Expiration: result.expiration.toISOString(),
            Region: result.region,
            AccountId: result.accountId,
            PrincipalArn: result.principalArn,
            DeviceId: result.deviceId,
            Profile: result.profile,
          },
          '200',
        ) as string;
        bodies.set(result, json);
      }
      return reply.type('application/json; charset=utf-8').send(json);
    },
  );
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  if (Array.isArray(value) || (typeof value === 'string' && value.includes(','))) {
    throw new KeyvendError('KEYVEND_PROOF_INVALID', `Send exactly one ${name} header.`);
  }
  return value;
}

/** The URL as the client addressed it, without query: what a DPoP proof's `htu` must match. */
export function requestUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  const path = request.url.split('?')[0] ?? '/';
  // A publicUrl may carry a path prefix (keyvend behind https://host/kv): keep it.
  if (publicUrl !== undefined) return `${publicUrl.replace(/\/+$/, '')}${path}`;
  return `${request.protocol}://${request.host}${path}`;
}
