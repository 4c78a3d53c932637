/**
 * `POST /v1/devices` — register a device. 201 with the registration token; 401 with every open
 * challenge when validators want answers; 403 when refused. Rate-limited per client address
 * (limits per profile).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { findProfile } from '../config/profiles.js';
import type { Services } from '../services/build-services.js';
import { errorResponses } from './schemas.js';

const RegisterBody = Type.Object(
  {
    profile: Type.String({ minLength: 1, maxLength: 64, description: 'Profile to register for.' }),
    answers: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
        description:
          'Answers to challenges, keyed by the challenge id (see docs/challenge-protocol.md).',
        maxProperties: 16,
      }),
    ),
    publicKey: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description: 'Public JWK (ES256 or EdDSA) to bind the device to (proof of possession).',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const RegisterReply = Type.Object({
  deviceId: Type.String(),
  profile: Type.String(),
  token: Type.String({ description: 'Registration token: keep it; trade it for credentials.' }),
  tokenExpiresAt: Type.String({ format: 'date-time' }),
  keyBound: Type.Boolean(),
});

export async function deviceRoutes(
  app: FastifyInstance,
  opts: { services: Services },
): Promise<void> {
  const { services } = opts;
  app.post(
    '/v1/devices',
    {
      schema: {
        summary: 'Register a device',
        tags: ['devices'],
        body: RegisterBody,
        response: { 201: RegisterReply, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
      },
      config: {
        rateLimit: {
          hook: 'preHandler',
          keyGenerator: (req) => `register:${profileOf(req.body)}:${req.ip}`,
          max: (req) =>
            findProfile(services.config, profileOf(req.body))?.rateLimits.register?.max ?? 30,
          timeWindow: (req) =>
            (findProfile(services.config, profileOf(req.body))?.rateLimits.register
              ?.windowSeconds ?? 60) * 1000,
        },
      },
    },
    async (request, reply) => {
      const result = await services.register.register({
        body: request.body as { profile: string },
        rawBody: request.rawBody ?? '',
        headers: request.headers,
        clientIp: request.ip,
      });
      return reply.code(201).send({
        deviceId: result.deviceId,
        profile: result.profile,
        token: result.token,
        tokenExpiresAt: result.tokenExpiresAt.toISOString(),
        keyBound: result.keyBound,
      });
    },
  );
}

function profileOf(body: unknown): string {
  const profile = (body as { profile?: unknown } | undefined)?.profile;
  return typeof profile === 'string' && profile.length <= 64 ? profile : '-';
}
