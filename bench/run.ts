/**
 * `npm run bench`: keyvend's performance figures, each against a baseline measured in the
 * same run on the same machine. Bounded: every load runs for BENCH_DURATION seconds
 * (default 8) or a fixed request count. Results go to `bench/results.json`.
 *
 * The load generator runs here; every server under test runs in its own process. Throughput
 * ratios alternate baseline and subject (B S B S) and compare their means, so background load
 * on the machine hits both alike. Each load also records the server's CPU time per request
 * (from `/proc`), which does not depend on whether the generator or the server is the
 * bottleneck.
 *
 * Scenarios:
 * - baseline — a bare Fastify route returning constant JSON;
 * - baselineCredentialSized — the same, with a constant answer as large as a vend answer;
 * - vendWarm — `POST /v1/credentials` for one device whose credentials are cached;
 * - vendDpop — the same for a key-bound device, a fresh DPoP proof on every request;
 * - registerNone / registerPow — registrations per second with validator `none` vs
 *   `proof-of-work` (challenge round trip + solve + answer), by the same client loop;
 * - singleFlight — 100 simultaneous vends for one new device → STS calls;
 * - spread — 1,000 vends over 100 devices → STS calls;
 * - stsOverhead — p99 of a cold vend (cache off, every vend calls STS) vs p99 of calling
 *   the same local STS directly with the AWS SDK: the latency keyvend adds.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { GetFederationTokenCommand, STSClient } from '@aws-sdk/client-sts';
import autocannon from 'autocannon';
import { createDpopProof, exportPublicJwk, generateDeviceKey } from '../src/client/dpop.js';
import { solveProofOfWork } from '../src/client/proof-of-work.js';
import { READY } from './ready.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ROOT = new URL('..', import.meta.url).pathname;
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Figures {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  errors: number;
  total: number;
  /**
   * CPU time (user + system) the server process spent per request during the load. Unlike
   * req/s it does not depend on whether the load generator or the server is the bottleneck.
   */
  serverCpuMicrosPerRequest?: number;
}

interface Server {
  url: string;
  localAws?: string;
  pid: number;
  stop(): Promise<void>;
}

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of a process so far, in microseconds (Linux `/proc`). */
function cpuMicros(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / CLOCK_TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

async function startServer(
  kind: 'baseline' | 'keyvend' | 'local-aws',
  config?: unknown,
  env: Record<string, string> = {},
): Promise<Server> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench/serve.ts'), kind],
    {
      cwd: ROOT,
      env: { ...process.env, ...env, BENCH_CONFIG: JSON.stringify(config ?? {}) },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<string>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith(READY)) resolve(line.slice(READY.length));
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  const info = JSON.parse(ready) as { url: string; localAws?: string };
  // The rest of the ready line (local-aws: its keys) is passed through to the caller.
  return {
    ...info,
    pid: child.pid ?? 0,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function figures(result: autocannon.Result): Figures {
  return {
    // Not requests.average: it counts whole seconds, so a 6.4 s run of 6,000 requests says 1,000.
    requestsPerSecond: Math.round(result.requests.total / result.duration),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

/** One load against `server`, with the server's CPU time per request. */
async function load(server: Server, options: autocannon.Options): Promise<Figures> {
  const before = cpuMicros(server.pid);
  const result = figures(
    await autocannon({ connections: CONNECTIONS, duration: DURATION, ...options }),
  );
  const after = cpuMicros(server.pid);
  if (before !== undefined && after !== undefined && result.total > 0) {
    result.serverCpuMicrosPerRequest = round3((after - before) / result.total);
  }
  return result;
}

/**
 * Alternates baseline and subject twice. `ratio` compares their mean throughputs;
 * `cpuRatio` their mean server CPU time per request (how many times the baseline's).
 */
async function versusBaseline(
  baseline: () => Promise<Figures>,
  subject: () => Promise<Figures>,
): Promise<{ baseline: Figures[]; subject: Figures[]; ratio: number; cpuRatio?: number }> {
  const b: Figures[] = [];
  const s: Figures[] = [];
  for (let round = 0; round < 2; round++) {
    b.push(await baseline());
    s.push(await subject());
  }
  const mean = (xs: Figures[], field: (x: Figures) => number | undefined) =>
    xs.reduce((sum, x) => sum + (field(x) ?? Number.NaN), 0) / xs.length;
  const rps = (x: Figures) => x.requestsPerSecond;
  const cpu = (x: Figures) => x.serverCpuMicrosPerRequest;
  const cpuRatio = round3(mean(s, cpu) / mean(b, cpu));
  return {
    baseline: b,
    subject: s,
    ratio: round3(mean(s, rps) / mean(b, rps)),
    ...(Number.isFinite(cpuRatio) ? { cpuRatio } : {}),
  };
}

/** A closed-loop client: `workers` loops running `step` until the time is up. */
async function loop(
  workers: number,
  seconds: number,
  step: () => Promise<void>,
): Promise<{ perSecond: number; p50Ms: number; p99Ms: number; completed: number; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await step();
          latencies.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: Math.round(latencies.length / elapsed),
    p50Ms: round3(percentile(latencies, 0.5)),
    p99Ms: round3(percentile(latencies, 0.99)),
    completed: latencies.length,
    failed,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function admin(localAws: string, method: string, args: Record<string, unknown> = {}) {
  const res = await fetch(`${localAws}/_admin/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
  const body = (await res.json()) as { result?: unknown; error?: unknown };
  if (!res.ok) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const stsCalls = async (localAws: string) =>
  Number(await admin(localAws, 'stsCallCount', { action: 'GetFederationToken' }));

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
const profiles = {
  demo,
  bound: { ...demo, requireKeyBinding: true },
  pow: { ...demo, validators: [{ type: 'proof-of-work', difficulty: 8 }] },
};

function keyvendConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'keyvend-bench-'));
  return {
    server: { host: '127.0.0.1', port: 0, logLevel: 'warn' },
    store: { type: 'sqlite', path: join(dir, 'bench.db') },
    aws: { region: 'us-east-1', local: { enabled: true, accountId: '123456789012' } },
    policiesDir: join(ROOT, 'policies'),
    profiles,
    ...extra,
  };
}

async function register(kv: Server, profile: string, extra: Record<string, unknown> = {}) {
  const res = await post(`${kv.url}/v1/devices`, { profile, ...extra });
  if (res.status !== 201) throw new Error(`registration failed: ${JSON.stringify(res.body)}`);
  return String(res.body.token);
}

async function registerWithPow(kv: Server): Promise<void> {
  const first = await post(`${kv.url}/v1/devices`, { profile: 'pow' });
  const challenges = (first.body.error as { challenges?: Record<string, unknown>[] }).challenges;
  const challenge = challenges?.[0];
  if (first.status !== 401 || challenge === undefined) throw new Error('no challenge');
  const answer = await solveProofOfWork({
    challenge: String(challenge.challenge),
    difficulty: Number(challenge.difficulty),
  });
  const second = await post(`${kv.url}/v1/devices`, {
    profile: 'pow',
    answers: { [String(challenge.id)]: answer },
  });
  if (second.status !== 201) throw new Error(`pow registration failed: ${second.status}`);
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    durationSeconds: DURATION,
    connections: CONNECTIONS,
  };
  const baseline = await startServer('baseline');
  const kv = await startServer('keyvend', keyvendConfig());
  try {
    const bare = () => load(baseline, { url: `${baseline.url}/` });

    log('vendWarm: POST /v1/credentials, cached credentials, vs baseline');
    const token = await register(kv, 'demo');
    const warm = await post(`${kv.url}/v1/credentials`, {}, { authorization: `Bearer ${token}` });
    if (warm.status !== 200) throw new Error(`warm-up vend failed: ${JSON.stringify(warm.body)}`);
    const vendUrl = `${kv.url}/v1/credentials`;
    const vend = await versusBaseline(bare, () =>
      load(kv, { url: vendUrl, method: 'POST', headers: { authorization: `Bearer ${token}` } }),
    );
    const sized = await versusBaseline(bare, () =>
      load(baseline, { url: `${baseline.url}/sized`, method: 'POST' }),
    );
    results.baseline = vend.baseline;
    results.vendWarm = {
      runs: vend.subject,
      ratioToBaseline: vend.ratio,
      cpuPerRequestToBaseline: vend.cpuRatio,
      note: 'req/s may be bounded by the load generator, which shares the two cores; cpuPerRequestToBaseline is what a request costs the server, whichever side is the bottleneck',
    };
    results.baselineCredentialSized = {
      runs: sized.subject,
      ratioToBaseline: sized.ratio,
      cpuPerRequestToBaseline: sized.cpuRatio,
      note: 'bare Fastify, constant JSON the size of a vend answer: the part of the gap that is payload alone',
    };

    log('vendDpop: key-bound device, a fresh DPoP proof per request');
    const keyPair = await generateDeviceKey();
    const boundToken = await register(kv, 'bound', {
      publicKey: await exportPublicJwk(keyPair.publicKey),
    });
    const proofCount = Number(process.env.BENCH_DPOP_REQUESTS ?? 6000);
    const proofs = await Promise.all(
      Array.from({ length: proofCount }, () =>
        createDpopProof({ keyPair, method: 'POST', url: vendUrl, accessToken: boundToken }),
      ),
    );
    let next = 0;
    const dpop = figures(
      await autocannon({
        url: vendUrl,
        connections: CONNECTIONS,
        amount: proofCount,
        requests: [
          {
            method: 'POST',
            setupRequest: (request) => {
              const proof = proofs[next++ % proofs.length] as string;
              return {
                ...request,
                headers: { ...request.headers, authorization: `DPoP ${boundToken}`, dpop: proof },
              };
            },
          },
        ],
      }),
    );
    const warmMean =
      vend.subject.reduce((sum, f) => sum + f.requestsPerSecond, 0) / vend.subject.length;
    results.vendDpop = { ...dpop, ratioToVendWarm: round3(dpop.requestsPerSecond / warmMean) };

    log('registerNone vs registerPow: registrations per second, same client loop');
    const workers = 8;
    const none = await loop(workers, DURATION, async () => {
      await register(kv, 'demo');
    });
    const pow = await loop(workers, DURATION, () => registerWithPow(kv));
    results.registerNone = none;
    results.registerPow = {
      ...pow,
      difficulty: 8,
      ratioToNone: round3(pow.perSecond / none.perSecond),
    };

    log('singleFlight: 100 simultaneous vends for one new device');
    const localAws = kv.localAws!;
    const fresh = await register(kv, 'demo');
    let before = await stsCalls(localAws);
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => post(vendUrl, {}, { authorization: `Bearer ${fresh}` })),
    );
    results.singleFlight = {
      requests: 100,
      ok: answers.filter((a) => a.status === 200).length,
      stsCalls: (await stsCalls(localAws)) - before,
    };

    log('spread: 1,000 vends over 100 devices');
    const tokens = await Promise.all(Array.from({ length: 100 }, () => register(kv, 'demo')));
    before = await stsCalls(localAws);
    let ok = 0;
    let index = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (index < 1000) {
          const t = tokens[index++ % tokens.length] as string;
          if ((await post(vendUrl, {}, { authorization: `Bearer ${t}` })).status === 200) ok++;
        }
      }),
    );
    results.spread = {
      requests: 1000,
      devices: 100,
      ok,
      stsCalls: (await stsCalls(localAws)) - before,
    };
  } finally {
    await kv.stop();
    await baseline.stop();
  }

  log('stsOverhead: p99 of a cold vend vs p99 of the STS call itself');
  // STS in its own process, reached the way real AWS is: AWS_ENDPOINT_URL_STS and keys.
  const sts = (await startServer('local-aws')) as Server & {
    identity: { accessKeyId: string; secretAccessKey: string };
    directKey: { accessKeyId: string; secretAccessKey: string };
  };
  const cold = await startServer(
    'keyvend',
    keyvendConfig({
      aws: { region: 'us-east-1' },
      credentialCache: { maxEntries: 0 },
    }),
    {
      AWS_ENDPOINT_URL_STS: sts.url,
      AWS_ACCESS_KEY_ID: sts.identity.accessKeyId,
      AWS_SECRET_ACCESS_KEY: sts.identity.secretAccessKey,
      AWS_REGION: 'us-east-1',
    },
  );
  try {
    const client = new STSClient({
      region: 'us-east-1',
      endpoint: sts.url,
      credentials: sts.directKey,
    });
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }],
    });
    const direct = await loop(8, DURATION, async () => {
      await client.send(new GetFederationTokenCommand({ Name: 'bench', Policy: policy }));
    });
    client.destroy();
    const coldTokens = await Promise.all(Array.from({ length: 20 }, () => register(cold, 'demo')));
    let i = 0;
    const viaKeyvend = await loop(8, DURATION, async () => {
      const t = coldTokens[i++ % coldTokens.length] as string;
      const res = await post(`${cold.url}/v1/credentials`, {}, { authorization: `Bearer ${t}` });
      if (res.status !== 200) throw new Error(String(res.status));
    });
    results.stsOverhead = {
      directSts: direct,
      coldVend: viaKeyvend,
      addedP50Ms: round3(viaKeyvend.p50Ms - direct.p50Ms),
      addedP99Ms: round3(viaKeyvend.p99Ms - direct.p99Ms),
      note: 'credential cache off: every vend calls STS (the local endpoint, in its own process)',
    };
  } finally {
    await cold.stop();
    await sts.stop();
  }

  const out = join(ROOT, 'bench/results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  log(JSON.stringify(results, null, 2));
  log(`wrote ${out}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
