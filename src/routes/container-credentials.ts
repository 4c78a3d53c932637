/**
 * `GET /v1/container-credentials` — the same credentials as `POST /v1/credentials`, in the shape
 * the AWS SDKs' HTTP (container) credential provider reads, so a client needs no keyvend code:
 *
 *   AWS_CONTAINER_CREDENTIALS_FULL_URI=https://keyvend.example.com/v1/container-credentials
 *   AWS_CONTAINER_AUTHORIZATION_TOKEN=<registration token>   (or …_TOKEN_FILE)
 *
 * The SDKs send the token as the raw `Authorization` value; `Bearer <token>` works too. Answers
 * `{ AccessKeyId, SecretAccessKey, Token, Expiration, AccountId }`; errors are
 * `{ Code, Message }`, which is what the SDK's provider reports. Key-bound devices cannot use
 * this endpoint: the SDKs send no DPoP proof.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { toKeyvendError } from '../error-mapping.js';
import { KeyvendError } from '../errors.js';
import type { AuthenticatedDevice, VendService } from '../services/vend-credentials.js';
import { requestUrl } from './credentials.js';

export interface ContainerCredentialsOptions {
  vend: VendService;
  /** `server.publicUrl`: the URL clients address keyvend by (DPoP `htu`), when configured. */
  publicUrl?: string | undefined;
}

const ContainerCredentialsReply = Type.Object({
  AccessKeyId: Type.String(),
  SecretAccessKey: Type.String(),
  Token: Type.String(),
  Expiration: Type.String({ format: 'date-time' }),
  AccountId: Type.Optional(Type.String()),
});

const ContainerError = Type.Object(
  {
    Code: Type.String({ description: 'keyvend error code, e.g. KEYVEND_DEVICE_DISABLED.' }),
    Message: Type.String(),
  },
  { description: 'The error shape the AWS SDKs’ HTTP credential provider reports.' },
);

const KEY_BOUND_MESSAGE =
  'This device is key-bound: each request needs a DPoP proof, which the AWS SDKs’ container ' +
  'credential provider cannot send. Use keyvend/client (POST /v1/credentials) instead.';

/**
 * Registers `GET /v1/container-credentials`.
 *
 * @example
 * ```ts
 * await app.register(containerCredentialsRoutes, {
 *   vend: services.vend,
 *   publicUrl: config.server.publicUrl,
 * });
 * ```
 */
export async function containerCredentialsRoutes(
  app: FastifyInstance,
  opts: ContainerCredentialsOptions,
): Promise<void> {
  const { vend } = opts;
  const authenticated = new WeakMap<FastifyRequest, AuthenticatedDevice>();

  // This plugin's own error shape; the app-wide handler still logs the same way.
  app.setErrorHandler((error, request, reply) => {
    let kv = toKeyvendError(error);
    if (kv.code === 'KEYVEND_PROOF_REQUIRED') {
      kv = new KeyvendError('KEYVEND_PROOF_REQUIRED', KEY_BOUND_MESSAGE, { cause: kv });
    }
    if (kv.statusCode >= 500) {
      request.log.error({ err: kv.cause ?? error, code: kv.code }, kv.message);
    } else {
      request.log.info({ code: kv.code }, 'request refused');
    }
    if (kv.headers) reply.headers(kv.headers);
    reply.header('cache-control', 'no-store');
    reply.code(kv.statusCode).send({ Code: kv.code, Message: kv.message });
  });

  app.get(
    '/v1/container-credentials',
    {
      exposeHeadRoute: false,
      schema: {
        summary: 'Credentials for the AWS SDKs’ container credential provider',
        description:
          'Set AWS_CONTAINER_CREDENTIALS_FULL_URI to this URL and AWS_CONTAINER_AUTHORIZATION_TOKEN to the registration token. Optional ?ttl=SECONDS.',
        tags: ['credentials'],
        headers: Type.Object({
          authorization: Type.Optional(
            Type.String({ description: 'The registration token, bare or as Bearer <token>.' }),
          ),
        }),
        response: {
          200: ContainerCredentialsReply,
          ...Object.fromEntries(
            [400, 401, 403, 429, 500, 502, 503].map((s) => [s, ContainerError]),
          ),
        },
      },
      onRequest: async (request) => {
        authenticated.set(request, await vend.authenticate(request.headers.authorization));
      },
      config: {
        rateLimit: {
          hook: 'preHandler',
          keyGenerator: (req) => `vend:${authenticated.get(req)?.device.id ?? req.ip}`,
          max: (req) => authenticated.get(req)?.profile.rateLimits.vend?.max ?? 120,
          timeWindow: (req) =>
            (authenticated.get(req)?.profile.rateLimits.vend?.windowSeconds ?? 60) * 1000,
        },
      },
    },
    async (request, reply) => {
      const result = await vend.vend(
        {
          authorization: request.headers.authorization,
          dpop: firstHeader(request.headers.dpop),
          method: request.method,
          url: requestUrl(request, opts.publicUrl),
          clientIp: request.ip,
          ttlSeconds: parseTtl(request.query),
        },
        authenticated.get(request),
      );
      reply.header('cache-control', 'no-store');
      reply.header('pragma', 'no-cache');
      return {
        AccessKeyId: result.accessKeyId,
        SecretAccessKey: result.secretAccessKey,
        Token: result.sessionToken,
        Expiration: result.expiration.toISOString(),
        AccountId: result.accountId,
      };
    },
  );
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `?ttl=SECONDS`, optional: the SDKs send no query, but a FULL_URI may carry one. */
function parseTtl(query: unknown): number | undefined {
  const raw = (query as Record<string, unknown> | undefined)?.ttl;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^[0-9]{1,7}$/.test(raw)) {
    throw new KeyvendError('KEYVEND_TTL_INVALID');
  }
  return Number(raw);
}
