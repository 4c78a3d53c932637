/**
 * A small, strict argument parser for the `keyvend` sub-commands: `--name value`,
 * `--name=value` and boolean `--flag`. Unknown options and missing values are usage errors.
 */
import { UsageError } from './io.js';

export interface ParsedArgs {
  options: Record<string, string | true>;
  positionals: string[];
}

/**
 * @param spec option name → `'string'` (takes a value) or `'boolean'` (a flag)
 */
export function parseArgs(args: string[], spec: Record<string, 'string' | 'boolean'>): ParsedArgs {
  const options: Record<string, string | true> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const kind = spec[name];
    if (kind === undefined) throw new UsageError(`unknown option --${name}`);
    if (kind === 'boolean') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '' || (eq === -1 && value.startsWith('--'))) {
      throw new UsageError(`--${name} needs a value`);
    }
    options[name] = value;
  }
  return { options, positionals };
}

export function stringOption(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.options[name];
  return typeof value === 'string' ? value : undefined;
}

export function requiredOption(parsed: ParsedArgs, name: string): string {
  const value = stringOption(parsed, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * `90s`, `30m`, `12h`, `7d`, `2w` → seconds, within `[min, max]`. Throws `UsageError` naming
 * the option.
 */
export function parseDuration(
  text: string,
  option: string,
  bounds: { min: number; max: number; range: string },
): number {
  const match = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2]!]! : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds < bounds.min || seconds > bounds.max) {
    throw new UsageError(
      `--${option} must be a duration such as 30m, 12h or 7d, ${bounds.range} (got ${JSON.stringify(text)})`,
    );
  }
  return seconds;
}
