/**
 * Request loggers built on first use: the lines are the ones pino's eager child writes
 * (bound to the request id), and a request that logs nothing at the enabled level builds no
 * child at all.
 */
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { deferredChildLogger } from '../src/request-logger.js';

async function appLogging(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = Fastify({ logger: { level, stream }, childLoggerFactory: deferredChildLogger });
  app.get('/quiet', async (request) => {
    request.log.debug('below the level');
    return { ok: true };
  });
  app.get('/loud', async (request) => {
    request.log.warn({ detail: 1 }, 'something to see');
    return { ok: true };
  });
  await app.ready();
  return { app, lines };
}

describe('deferredChildLogger', () => {
  it('writes request lines bound to the request id, as the eager child would', async () => {
    const { app, lines } = await appLogging('info');
    const res = await app.inject({ method: 'GET', url: '/loud' });
    expect(res.statusCode).toBe(200);
    const warn = lines.find((l) => l.msg === 'something to see');
    expect(warn).toMatchObject({ level: 40, detail: 1 });
    expect(warn?.reqId).toEqual(expect.any(String));
    // Fastify's own request lines carry the same id.
    const completed = lines.find((l) => l.msg === 'request completed');
    expect(completed?.reqId).toBe(warn?.reqId);
    await app.close();
  });

  it('builds no child for a request that logs nothing at the enabled level', async () => {
    const { app, lines } = await appLogging('warn');
    const child = vi.spyOn(app.log, 'child');
    for (let i = 0; i < 5; i++) await app.inject({ method: 'GET', url: '/quiet' });
    expect(child).not.toHaveBeenCalled();
    await app.inject({ method: 'GET', url: '/loud' });
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines.map((l) => l.msg)).toEqual(['something to see']);
    await app.close();
  });
});
