/**
 * The keyvend HTTP application — the table of contents: every plugin and route is registered
 * here, in order. `server.ts` loads the config, calls `buildApp`, listens and closes; tests
 * call `buildApp` and use `inject` or listen on port 0.
 *
 * Errors: handlers throw; the one error handler below turns anything thrown (KeyvendErrors,
 * schema-validation failures, body-parser failures, rate limiting) into the envelope
 * `{ error: { code, message, ... } }`. A 5xx never shows internals; its log line keeps the
 * cause.
 */
import type { Writable } from 'node:stream';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Config } from './config/schema.js';
import { toKeyvendError } from './error-mapping.js';
import { KeyvendError } from './errors.js';
import { deferredChildLogger } from './request-logger.js';
import { containerCredentialsRoutes } from './routes/container-credentials.js';
import { credentialRoutes } from './routes/credentials.js';
import { deviceRoutes } from './routes/devices.js';
import { healthRoutes } from './routes/health.js';
import { oidcProviderRoutes } from './routes/oidc-provider.js';
import { ErrorEnvelope } from './routes/schemas.js';
import { type BuildOptions, buildServices, type Services } from './services/build-services.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body exactly as received (JSON bodies only), for signatures over it. */
    rawBody?: string;
  }
}

export interface AppOptions extends Omit<BuildOptions, 'logger' | 'issuerUrl'> {
  /** Where log lines go (default stdout). Tests pass a stream to inspect them. */
  logStream?: Writable;
  /** Prebuilt services (tests that share one set across apps). */
  services?: Services;
}

export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.dpop',
  'req.headers["x-keyvend-app-signature"]',
  'req.headers.cookie',
];

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const { server } = config;
  const app = Fastify({
    logger: {
      level: server.logLevel,
      redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    childLoggerFactory: deferredChildLogger,
    bodyLimit: server.bodyLimit,
    trustProxy: server.trustedProxies.length > 0 ? [...server.trustedProxies] : false,
    requestTimeout: server.requestTimeoutMs,
    connectionTimeout: server.requestTimeoutMs,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });

  const issuerUrl = () => publicUrlOf(app, config);
  const services =
    options.services ?? (await buildServices(config, { ...options, logger: app.log, issuerUrl }));
  if (!options.services) app.addHook('onClose', () => services.close());

  // JSON bodies: Fastify's own safe parser (prototype-poisoning protection), keeping the raw
  // text; an empty body is "no body" so optional bodies may be left out.
  // Only JSON is accepted: anything else is 415, not a string for the schema to puzzle over.
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (request: FastifyRequest, body: string | Buffer, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      request.rawBody = text;
      if (text.trim() === '') return done(null, undefined);
      parseJson(request, text, done);
    },
  );

  app.setErrorHandler((error, request, reply) => {
    const kv = toKeyvendError(error);
    if (kv.statusCode >= 500)
      request.log.error({ err: kv.cause ?? error, code: kv.code }, kv.message);
    else request.log.info({ code: kv.code }, 'request refused');
    if (kv.headers) reply.headers(kv.headers);
    reply.code(kv.statusCode).send({
      error: { code: kv.code, message: kv.message, ...(kv.expose ? kv.details : {}) },
    });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: {
        code: 'KEYVEND_NOT_FOUND',
        message: `No route ${request.method} ${request.url.split('?')[0]}.`,
      },
    });
  });

  if (server.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: server.corsOrigins.includes('*') ? '*' : [...server.corsOrigins],
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'dpop', 'x-keyvend-app-signature'],
      exposedHeaders: [
        'retry-after',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
      ],
      credentials: false,
      maxAge: 600,
    });
  }
  app.addSchema(ErrorEnvelope);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'keyvend',
        description:
          'Temporary AWS credentials for devices. Errors: { error: { code, message } } — codes in the README. Registration challenges: docs/challenge-protocol.md.',
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          registrationToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new KeyvendError('KEYVEND_RATE_LIMITED', `Too many requests; retry in ${context.after}.`, {
        headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
      }),
  });

  // Routes — one file per API path.
  await app.register(healthRoutes, { services });
  await app.register(deviceRoutes, { services });
  await app.register(credentialRoutes, { services });
  await app.register(containerCredentialsRoutes, {
    vend: services.vend,
    ...(server.publicUrl === undefined ? {} : { publicUrl: server.publicUrl }),
  });

  if (services.oidcKeyRing) {
    await app.register(oidcProviderRoutes, { issuerUrl, keyRing: services.oidcKeyRing });
  }

  app.decorate('keyvend', services);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    keyvend: Services;
  }
}

/** `server.publicUrl`, or the address keyvend is listening on. */
export function publicUrlOf(app: FastifyInstance, config: Config): string {
  if (config.server.publicUrl !== undefined) return config.server.publicUrl.replace(/\/+$/, '');
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const host =
    config.server.host === '0.0.0.0' || config.server.host === '::'
      ? '127.0.0.1'
      : config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
