/**
 * Starts a real keyvend for integration tests: a temporary SQLite file, the repository's
 * policy templates, the in-process local AWS endpoint, listening on 127.0.0.1 with a free
 * port. Everything is real; nothing of keyvend's is mocked. Log lines are captured so tests
 * can check what reaches the log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { buildConfig, type Env } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { LocalAws } from '../../src/local-aws/index.js';
import type { Services } from '../../src/services/build-services.js';
import { REPO_ROOT } from './paths.js';

export interface Keyvend {
  url: string;
  app: FastifyInstance;
  services: Services;
  localAws: LocalAws;
  config: Config;
  /** Every log line written so far, raw. */
  logs(): string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Merged over the default config (profiles replace the default profiles wholesale). */
  config?: Record<string, unknown>;
  env?: Env;
  clock?: () => Date;
  fetch?: typeof fetch;
}

/** A profile anyone can register for, vending the per-device S3 prefix policy. */
export const DEMO_PROFILE = {
  validators: [{ type: 'none' }],
  issuer: { type: 'federation-token' },
  policy: 'device-s3-prefix.json',
  params: { bucket: 'test-bucket' },
  ttl: { default: 3600, max: 7200 },
};

export function testConfig(overrides: Record<string, unknown> = {}, env: Env = {}): Config {
  const dir = mkdtempSync(join(tmpdir(), 'keyvend-test-'));
  const raw = {
    server: { host: '127.0.0.1', port: 0, logLevel: 'info' },
    store: { type: 'sqlite', path: join(dir, 'keyvend.db') },
    aws: { region: 'us-east-1', local: { enabled: true, accountId: '123456789012' } },
    policiesDir: join(REPO_ROOT, 'policies'),
    profiles: { demo: DEMO_PROFILE },
    ...overrides,
  };
  return buildConfig(raw, { baseDir: dir, env });
}

export async function startKeyvend(options: StartOptions = {}): Promise<Keyvend> {
  const config = testConfig(options.config, options.env);
  let logText = '';
  const logStream = new Writable({
    write(chunk, _enc, done) {
      logText += chunk.toString();
      done();
    },
  });
  const app = await buildApp(config, {
    logStream,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  const services = app.keyvend;
  if (!services.localAws) throw new Error('harness expects the local AWS endpoint');
  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    services,
    localAws: services.localAws,
    config,
    logs: () => logText,
    close: async () => {
      await app.close();
      if (config.store.type === 'sqlite') {
        rmSync(resolve(config.store.path, '..'), { recursive: true, force: true });
      }
    },
  };
}

/** POST JSON to keyvend and return status, headers and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
}

/** Registers a device on `profile` and returns its id and token. */
export async function registerDevice(
  kv: Keyvend,
  profile = 'demo',
  extra: Record<string, unknown> = {},
): Promise<{ deviceId: string; token: string }> {
  const res = await postJson(`${kv.url}/v1/devices`, { profile, ...extra });
  if (res.status !== 201) throw new Error(`registration failed: ${JSON.stringify(res.body)}`);
  return { deviceId: String(res.body.deviceId), token: String(res.body.token) };
}
