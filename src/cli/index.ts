#!/usr/bin/env node
/**
 * The `keyvend` command. Each sub-command lives in its own file and is listed in the table
 * below; commands call the same services as the HTTP routes.
 */
import { isEntryPoint } from '../entry-point.js';
import { ConfigError } from '../errors.js';
import { type CliIo, type Command, UsageError } from './io.js';

/**
 * `keyvend <group> <verb>` or `keyvend <name>` → the module that runs it. Each module exports
 * `run: Command`; modules load lazily so `keyvend --help` stays fast.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: {
    summary: 'run the keyvend server',
    load: async () => (await import('./serve-command.js')).run,
  },
  policy: {
    summary: 'lint: check every template | render --profile P --device D',
    load: async () => (await import('./policy-command.js')).run,
  },
  devices: {
    summary: 'list | show | disable | enable devices',
    load: async () => (await import('./devices-command.js')).run,
  },
  invites: {
    summary: 'create | list invite codes',
    load: async () => (await import('./invites-command.js')).run,
  },
  'credential-process': {
    summary: 'print AWS credentials for credential_process (--url U --token-file F)',
    load: async () => (await import('./credential-process-command.js')).run,
  },
  keys: {
    summary: 'list | rotate | prune registration-token signing keys',
    load: async () => (await import('./keys-command.js')).run,
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) => `  keyvend ${name.padEnd(22)} ${c.summary}`,
  );
  return [
    'usage:',
    ...lines,
    '',
    'Commands that read the config take --config FILE (default ./keyvend.json or $KEYVEND_CONFIG).',
  ].join('\n');
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.stdout(`${usage()}\n`);
    return first === undefined ? 2 : 0;
  }
  const two = second === undefined ? undefined : `${first} ${second}`;
  const name = two !== undefined && COMMANDS[two] ? two : first;
  const entry = COMMANDS[name];
  if (!entry) {
    io.stderr(`keyvend: unknown command ${JSON.stringify(first)}\n${usage()}\n`);
    return 2;
  }
  const args = name === two ? rest : [second, ...rest].filter((a): a is string => a !== undefined);
  try {
    const command = await entry.load();
    return await command(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`keyvend ${name}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr(`${err.message}\n`);
      return 78;
    }
    io.stderr(`keyvend ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}

if (isEntryPoint(import.meta.url)) {
  const io: CliIo = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`keyvend: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
