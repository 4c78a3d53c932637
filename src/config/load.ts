/**
 * Loads `keyvend.json`: parse, fill defaults, validate against the one schema, run the
 * checks a schema cannot express, resolve `*Env` secrets, resolve relative paths and freeze.
 * Every problem is reported at once, each naming the file and the key, e.g.
 * `keyvend.json: profiles.mobile.ttl.default: must be >= 900`.
 *
 * This is the only module that reads `process.env` (through the `env` it is given).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigError } from '../errors.js';
import { type Config, ConfigSchema } from './schema.js';
import { checkValidatorConfig } from './validator-schemas.js';

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_CONFIG_FILE = 'keyvend.json';

const ajv = new Ajv({
  allErrors: true,
  useDefaults: true,
  discriminator: true,
  strict: false,
  validateFormats: false,
});
const validate = ajv.compile(ConfigSchema);

export interface LoadOptions {
  /** Path from `--config`; falls back to `KEYVEND_CONFIG`, then `./keyvend.json`. */
  file?: string | undefined;
  env?: Env;
  cwd?: string;
}

/** Reads and validates the config file. Throws `ConfigError` naming every bad key. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = resolve(cwd, options.file ?? env.KEYVEND_CONFIG ?? DEFAULT_CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(err);
    throw new ConfigError(file, [reason]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  return buildConfig(raw, { file, baseDir: dirname(file), env });
}

/**
 * Validates a config given as a value (tests and embedded use). Relative paths resolve
 * against `baseDir`.
 */
export function buildConfig(
  raw: unknown,
  options: { file?: string; baseDir: string; env?: Env },
): Config {
  const file = options.file ?? '<inline>';
  const env = options.env ?? process.env;
  const value = structuredClone(raw) as Record<string, unknown>;
  if (!validate(value)) {
    throw new ConfigError(file, formatErrors(validate.errors ?? []));
  }
  const config = value as unknown as Config;
  const problems: string[] = [];
  checkCrossFields(config, problems);
  resolveSecrets(value, '', env, problems);
  if (problems.length > 0) throw new ConfigError(file, problems);

  if (config.store.type === 'sqlite')
    config.store.path = resolve(options.baseDir, config.store.path);
  config.policiesDir = resolve(options.baseDir, config.policiesDir);
  config.aws.region ??=
    env.AWS_REGION ??
    env.AWS_DEFAULT_REGION ??
    (config.aws.local.enabled ? 'us-east-1' : undefined);
  if (config.aws.region === undefined) {
    throw new ConfigError(file, ['aws.region: not set, and AWS_REGION is not in the environment']);
  }
  Object.assign(config, { file, baseDir: options.baseDir });
  return deepFreeze(config);
}

function checkCrossFields(config: Config, problems: string[]): void {
  for (const [name, profile] of Object.entries(config.profiles)) {
    problems.push(...checkValidatorConfig(profile.validators, `profiles.${name}.validators`));
    if (profile.ttl.default > profile.ttl.max) {
      problems.push(
        `profiles.${name}.ttl.default: must be <= profiles.${name}.ttl.max (${profile.ttl.max})`,
      );
    }
  }
}

/** Replaces every `<name>Env: "VAR"` with a non-enumerable `<name>` holding the variable's value. */
function resolveSecrets(node: unknown, path: string, env: Env, problems: string[]): void {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) resolveSecrets(item, `${path}[${i}]`, env, problems);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, val] of Object.entries(node)) {
    const keyPath = path === '' ? key : `${path}.${key}`;
    if (key.endsWith('Env') && key.length > 3 && typeof val === 'string') {
      const secret = env[val];
      if (secret === undefined || secret === '') {
        problems.push(`${keyPath}: environment variable ${val} is not set`);
        continue;
      }
      Object.defineProperty(node, key.slice(0, -3), { value: secret, enumerable: false });
    } else {
      resolveSecrets(val, keyPath, env, problems);
    }
  }
}

function formatErrors(errors: ErrorObject[]): string[] {
  const out = new Set<string>();
  for (const e of errors) {
    // oneOf/anyOf wrappers repeat what their members said; the discriminator error is enough.
    if (e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'if') continue;
    let key = e.instancePath.split('/').slice(1).map(unescapePointer);
    let message = e.message ?? 'is not valid';
    if (e.keyword === 'additionalProperties') {
      key = [...key, String(e.params.additionalProperty)];
      message = 'unknown key';
    } else if (e.keyword === 'required') {
      key = [...key, String(e.params.missingProperty)];
      message = 'is required';
    } else if (e.keyword === 'discriminator') {
      key = [...key, 'type'];
      message =
        e.params.error === 'mapping'
          ? `unknown type ${JSON.stringify(e.params.tagValue)}`
          : 'is required';
    } else if (e.keyword === 'enum' || e.keyword === 'const') {
      const allowed = e.params.allowedValues ?? [e.params.allowedValue];
      message = `must be one of ${allowed.map((v: unknown) => JSON.stringify(v)).join(', ')}`;
    }
    out.add(`${formatPath(key)}: ${message}`);
  }
  return [...out];
}

function unescapePointer(part: string): string {
  return part.replace(/~1/g, '/').replace(/~0/g, '~');
}

function formatPath(parts: string[]): string {
  if (parts.length === 0) return '(top level)';
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
