/**
 * The keyvend server entry: load the config (`--config FILE`, `KEYVEND_CONFIG`, or
 * `./keyvend.json`), build the app, listen, print how to try it, and close gracefully on
 * SIGINT/SIGTERM (in-flight requests finish; a second signal or a timeout forces exit).
 */

import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { isEntryPoint } from './entry-point.js';
import { ConfigError } from './errors.js';

const CLOSE_TIMEOUT_MS = 10_000;

export async function startServer(config: Config): Promise<FastifyInstance> {
  const app = await buildApp(config);
  await app.listen({ host: config.server.host, port: config.server.port });
  return app;
}

/** What `npm start` prints: two curl commands that exercise the first profile. */
export function tryItText(config: Config, url: string): string {
  const profile = Object.keys(config.profiles)[0] ?? 'demo';
  return [
    '',
    `keyvend is listening on ${url}`,
    '',
    'Try it:',
    `  TOKEN=$(curl -s -X POST ${url}/v1/devices -H 'content-type: application/json' \\`,
    `    -d '{"profile":"${profile}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')`,
    `  curl -s -X POST ${url}/v1/credentials -H "authorization: Bearer $TOKEN"`,
    '',
    `API docs: ${url}/docs`,
    '',
  ].join('\n');
}

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i !== -1) return argv[i + 1];
  const prefixed = argv.find((a) => a.startsWith(`${name}=`));
  return prefixed?.slice(name.length + 1);
}

/** Loads the config, listens, prints how to try it and closes on SIGINT/SIGTERM. */
export async function serve(argv: string[]): Promise<void> {
  let config: Config;
  try {
    config = loadConfig({ file: argValue(argv, '--config') });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keyvend: configuration error\n${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  let app: FastifyInstance;
  try {
    app = await startServer(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`keyvend: configuration error\n${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const host = config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host;
  process.stdout.write(tryItText(config, config.server.publicUrl ?? `http://${host}:${port}`));

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) process.exit(1);
    closing = true;
    app.log.info({ signal }, 'closing');
    const timer = setTimeout(() => process.exit(1), CLOSE_TIMEOUT_MS);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

if (isEntryPoint(import.meta.url)) {
  serve(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`keyvend: failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
