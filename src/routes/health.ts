/**
 * `GET /healthz` (the process answers) and `GET /readyz` (the store answers), plus the public
 * keys that verify registration tokens at `GET /.well-known/jwks.json`.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { KeyvendError } from '../errors.js';
import type { Services } from '../services/build-services.js';
import { errorResponses } from './schemas.js';

const Status = Type.Object({ status: Type.String() });

export async function healthRoutes(
  app: FastifyInstance,
  opts: { services: Services },
): Promise<void> {
  const { services } = opts;
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness', tags: ['operations'], response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the store answers',
        tags: ['operations'],
        response: { 200: Status, ...errorResponses(503) },
      },
    },
    async () => {
      try {
        await services.store.ping();
      } catch (cause) {
        throw new KeyvendError('KEYVEND_NOT_READY', undefined, { cause });
      }
      return { status: 'ready' };
    },
  );
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        summary: 'Public keys that verify registration tokens',
        tags: ['tokens'],
        response: {
          200: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return services.keyRing.jwks();
    },
  );
}
