/**
 * Maps anything a request can throw — KeyvendErrors, Fastify's schema-validation and
 * body-parser errors, rate limiting, unknown failures — to one KeyvendError, which the error
 * handler in `app.ts` (and the container-credentials route, in its own shape) sends.
 */
import type { FastifyError } from 'fastify';
import { ERRORS, type ErrorCode, isKeyvendError, KeyvendError } from './errors.js';

/** Everything thrown maps to one KeyvendError; unknown errors become KEYVEND_INTERNAL. */
export function toKeyvendError(error: unknown): KeyvendError {
  if (isKeyvendError(error)) return error;
  const e = error as FastifyError & { validationContext?: string };
  if (e.validation) {
    const problems = e.validation.map((v) => {
      const where = `${e.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`;
      const missing = (v.params as { missingProperty?: string }).missingProperty;
      const extra = (v.params as { additionalProperty?: string }).additionalProperty;
      if (missing) return `${where}.${missing}: is required`;
      if (extra) return `${where}.${extra}: unknown field`;
      return `${where}: ${v.message ?? 'is not valid'}`;
    });
    return new KeyvendError('KEYVEND_BAD_REQUEST', `Invalid request: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
  const byFastifyCode: Partial<Record<string, ErrorCode>> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'KEYVEND_BODY_TOO_LARGE',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'KEYVEND_UNSUPPORTED_MEDIA_TYPE',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'KEYVEND_BAD_REQUEST',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'KEYVEND_BAD_REQUEST',
  };
  const mapped = e.code ? byFastifyCode[e.code] : undefined;
  if (mapped) return new KeyvendError(mapped, undefined, { cause: error });
  if (error instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new KeyvendError('KEYVEND_BAD_REQUEST', 'The request body is not valid JSON.', {
      cause: error,
    });
  }
  if (e.statusCode === 429)
    return new KeyvendError('KEYVEND_RATE_LIMITED', undefined, { cause: error });
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Fastify's own client errors (bad headers, prototype poisoning, …): the message is safe.
    return new KeyvendError('KEYVEND_BAD_REQUEST', e.message, { cause: error });
  }
  return new KeyvendError('KEYVEND_INTERNAL', ERRORS.KEYVEND_INTERNAL.message, { cause: error });
}
