/**
 * A server process for the benchmarks, so that the load generator and the server under test
 * do not share one event loop. `baseline` is a bare Fastify route returning constant JSON;
 * `keyvend` is the real app built from the config in BENCH_CONFIG (JSON); `local-aws` is the
 * local STS endpoint alone, standing in for AWS in its own process. Prints one line
 * `BENCH_READY { "url": ..., "localAws": ... }` when listening; exits on SIGTERM.
 */
import Fastify from 'fastify';
import { buildApp } from '../src/app.js';
import { buildConfig } from '../src/config/load.js';
import { startLocalAws } from '../src/local-aws/index.js';
import { READY } from './ready.js';

async function main(kind: string): Promise<void> {
  if (kind === 'baseline') {
    const app = Fastify({ logger: false });
    app.get('/', async () => ({ hello: 'world' }));
    // The same constant JSON at the size of a vend answer (credentials are ~1.2 KB), to show
    // how much of the gap to the baseline is the answer's size alone.
    const sized = {
      AccessKeyId: `ASIA${'X'.repeat(16)}`,
      SecretAccessKey: 'y'.repeat(40),
      SessionToken: 'z'.repeat(900),
      Expiration: new Date().toISOString(),
      Region: 'us-east-1',
      DeviceId: `d-${'a'.repeat(24)}`,
      Profile: 'demo',
    };
    app.post('/sized', async () => sized);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    process.stdout.write(`${READY}${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
    process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
    return;
  }
  if (kind === 'local-aws') {
    // The local STS endpoint on its own, as a stand-in for AWS in a separate process.
    const aws = await startLocalAws({ accountId: '123456789012', log: () => {} });
    // STS's own 600/s bucket would throttle the load itself and measure backoff, not keyvend.
    aws.control.setRateLimit({ ratePerSecond: 1_000_000, burst: 1_000_000 });
    const identity = aws.control.bootstrapKeyvendIdentity();
    const direct = aws.control.createUser('bench-direct', {
      policies: [
        {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'sts:GetFederationToken', Resource: '*' }],
        },
      ],
    });
    const directKey = aws.control.createAccessKey(direct.userName);
    process.stdout.write(`${READY}${JSON.stringify({ url: aws.url, identity, directKey })}\n`);
    process.on('SIGTERM', () => aws.close().then(() => process.exit(0)));
    return;
  }
  const raw = JSON.parse(process.env.BENCH_CONFIG ?? '{}');
  const config = buildConfig(raw, { baseDir: process.cwd(), env: process.env });
  const app = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(
    `${READY}${JSON.stringify({ url: `http://127.0.0.1:${port}`, localAws: app.keyvend.localAws?.url })}\n`,
  );
  process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
}

main(process.argv[2] ?? 'baseline').catch((err: unknown) => {
  process.stderr.write(`bench server failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
