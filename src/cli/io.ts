/**
 * What a CLI command gets from the outside world. Commands never touch `process` directly,
 * so tests run them in-process with captured output.
 */
import type { Env } from '../config/load.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Env;
  cwd: string;
}

/** A command: parses its own arguments, returns the exit code. */
export type Command = (args: string[], io: CliIo) => Promise<number>;

/** A usage mistake: printed to stderr with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
