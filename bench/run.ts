/**
 * `npm run bench`: keyvend's performance figures, each against a baseline measured in the
 * same run on the same machine. Bounded in time (BENCH_DURATION seconds per scenario,
 * default 10). Results go to `bench/results.json`.
 *
 * Scenarios:
 * - baseline: a bare Fastify route returning constant JSON;
 * - vend-warm: `POST /v1/credentials` for one device whose credentials are cached;
 * - register-none: `POST /v1/devices` on a profile whose only validator is `none`;
 * - single-flight: 100 simultaneous vend requests for one new device → STS calls.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { READY } from './serve.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROOT = new URL('..', import.meta.url).pathname;

interface Figures {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  total: number;
}

interface Server {
  url: string;
  localAws?: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(kind: 'baseline' | 'keyvend', config?: unknown): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/serve.ts'), kind], {
    cwd: ROOT,
    env: { ...process.env, BENCH_CONFIG: JSON.stringify(config ?? {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith(READY)) resolve(line.slice(READY.length));
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  const info = JSON.parse(ready) as { url: string; localAws?: string };
  return {
    ...info,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function load(options: autocannon.Options): Promise<Figures> {
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION, ...options });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

function keyvendConfig(dir: string, profiles: Record<string, unknown>): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0, logLevel: 'warn' },
    store: { type: 'sqlite', path: join(dir, 'bench.db') },
    aws: { region: 'us-east-1', local: { enabled: true, accountId: '123456789012' } },
    policiesDir: join(ROOT, 'policies'),
    profiles,
  };
}

const unlimited = {
  register: { max: 100_000_000, windowSeconds: 60 },
  vend: { max: 100_000_000, windowSeconds: 60 },
};
const demo = {
  validators: [{ type: 'none' }],
  issuer: { type: 'federation-token' },
  policy: 'device-s3-prefix.json',
  params: { bucket: 'bench-bucket' },
  rateLimits: unlimited,
};

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function stsCalls(localAws: string): Promise<number> {
  const res = await fetch(`${localAws}/_admin/stsCallCount?action=GetFederationToken`);
  const body = (await res.json()) as { result: number };
  return body.result;
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    durationSeconds: DURATION,
    connections: CONNECTIONS,
  };
  const log = (s: string) => process.stderr.write(`${s}\n`);

  log('baseline: bare Fastify, constant JSON');
  const baseline = await startServer('baseline');
  const base = await load({ url: `${baseline.url}/` });
  await baseline.stop();
  results.baseline = base;

  const dir = mkdtempSync(join(tmpdir(), 'keyvend-bench-'));
  const kv = await startServer('keyvend', keyvendConfig(dir, { demo }));
  try {
    const reg = await post(`${kv.url}/v1/devices`, { profile: 'demo' });
    const token = String(reg.body.token);
    const warm = await post(`${kv.url}/v1/credentials`, {}, { authorization: `Bearer ${token}` });
    if (warm.status !== 200) throw new Error(`warm-up vend failed: ${JSON.stringify(warm.body)}`);

    log('vend-warm: POST /v1/credentials, cached credentials');
    const vend = await load({
      url: `${kv.url}/v1/credentials`,
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    results.vendWarm = {
      ...vend,
      ratioToBaseline: round(vend.requestsPerSecond / base.requestsPerSecond),
    };

    log('register-none: POST /v1/devices, validator none');
    const register = await load({
      url: `${kv.url}/v1/devices`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ profile: 'demo' }),
    });
    results.registerNone = {
      ...register,
      ratioToBaseline: round(register.requestsPerSecond / base.requestsPerSecond),
    };

    log('single-flight: 100 simultaneous vends for one new device');
    const fresh = await post(`${kv.url}/v1/devices`, { profile: 'demo' });
    const before = kv.localAws ? await stsCalls(kv.localAws) : Number.NaN;
    const answers = await Promise.all(
      Array.from({ length: 100 }, () =>
        post(
          `${kv.url}/v1/credentials`,
          {},
          { authorization: `Bearer ${String(fresh.body.token)}` },
        ),
      ),
    );
    const after = kv.localAws ? await stsCalls(kv.localAws) : Number.NaN;
    results.singleFlight = {
      requests: 100,
      ok: answers.filter((a) => a.status === 200).length,
      stsCalls: after - before,
    };
  } finally {
    await kv.stop();
  }

  const out = join(ROOT, 'bench/results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  log(JSON.stringify(results, null, 2));
  log(`wrote ${out}`);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
