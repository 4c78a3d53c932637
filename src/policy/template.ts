/**
 * Policy templates: `policies/*.json` read, parsed strictly and compiled once into a render
 * plan. Compiling walks the parsed document and writes its minified JSON as literal chunks
 * with a slot wherever a `${keyvend:…}` variable sits inside a string value; rendering then
 * only joins chunks and checked values (see `render.ts`). Object keys never hold variables,
 * so no value can land anywhere but inside a JSON string.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { JsonSyntaxError, type JsonValue, parseJson } from './json-text.js';
import {
  mentionsKeyvendVariable,
  splitVariables,
  type ValueGetter,
  valueGetter,
} from './variables.js';

/**
 * How to render a template: `chunks[0] + value(slots[0]) + chunks[1] + … + chunks[n]`, where a
 * slot indexes `variables`. Built once by `compileTemplate`.
 */
export interface RenderPlan {
  readonly chunks: readonly string[];
  readonly slots: readonly number[];
  readonly variables: readonly { readonly name: string; readonly get: ValueGetter }[];
}

/** A parsed, compiled policy template. */
export interface PolicyTemplate {
  /** File name inside the policies directory, e.g. `device-s3-prefix.json` (what profiles name). */
  readonly name: string;
  /** Absolute path of the file, or a label for templates not read from disk. */
  readonly file: string;
  /** The parsed document, variables still in place. */
  readonly document: JsonValue;
  /** Full names of the keyvend variables used, e.g. `keyvend:device`, `keyvend:param/bucket`. */
  readonly variables: ReadonlySet<string>;
  readonly plan: RenderPlan;
}

/** Every template of a directory that compiled, and the problems of those that did not. */
export interface TemplateDirectory {
  readonly dir: string;
  readonly templates: Map<string, PolicyTemplate>;
  /** By file name: the `ConfigError` of each file that failed to read, parse or compile. */
  readonly failures: Map<string, ConfigError>;
}

/**
 * Parses and compiles one template from its text.
 *
 * @throws ConfigError naming `file` and each problem: `3:14: expected ',' or '}'`, or
 *   `Statement[0].Resource: unknown variable ${keyvend:bucket}`.
 */
export function parseTemplate(name: string, text: string, file = name): PolicyTemplate {
  let document: JsonValue;
  try {
    document = parseJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new ConfigError(file, [err.message]);
    throw err;
  }
  return compileTemplate(name, document, file);
}

/**
 * Compiles a parsed document into a template.
 *
 * @throws ConfigError listing every unknown or malformed `${keyvend:…}` variable and every
 *   object key that mentions one.
 */
export function compileTemplate(name: string, document: JsonValue, file = name): PolicyTemplate {
  const problems: string[] = [];
  const chunks: string[] = [];
  const slots: number[] = [];
  const variables: { name: string; get: ValueGetter }[] = [];
  const index = new Map<string, number>();
  let chunk = '';

  const emitString = (text: string, path: string): void => {
    const found: string[] = [];
    const segments = splitVariables(text, found);
    for (const p of found) problems.push(`${path || '(top level)'}: ${p}`);
    chunk += '"';
    for (const segment of segments) {
      if ('text' in segment) {
        chunk += JSON.stringify(segment.text).slice(1, -1);
        continue;
      }
      let slot = index.get(segment.variable);
      if (slot === undefined) {
        slot = variables.length;
        index.set(segment.variable, slot);
        variables.push({ name: segment.variable, get: valueGetter(segment.variable)! });
      }
      chunks.push(chunk);
      slots.push(slot);
      chunk = '';
    }
    chunk += '"';
  };

  const emit = (node: JsonValue, path: string): void => {
    if (typeof node === 'string') {
      emitString(node, path);
    } else if (Array.isArray(node)) {
      chunk += '[';
      node.forEach((item, i) => {
        if (i > 0) chunk += ',';
        emit(item, `${path}[${i}]`);
      });
      chunk += ']';
    } else if (node !== null && typeof node === 'object') {
      chunk += '{';
      Object.entries(node).forEach(([key, value], i) => {
        const keyPath = path === '' ? key : `${path}.${key}`;
        if (mentionsKeyvendVariable(key)) {
          problems.push(`${keyPath}: keyvend variables may appear in string values only, not keys`);
        }
        chunk += `${i > 0 ? ',' : ''}${JSON.stringify(key)}:`;
        emit(value, keyPath);
      });
      chunk += '}';
    } else {
      chunk += JSON.stringify(node);
    }
  };

  emit(document, '');
  chunks.push(chunk);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return {
    name,
    file,
    document,
    variables: new Set(index.keys()),
    plan: { chunks, slots, variables },
  };
}

/**
 * Reads every `*.json` file of `dir` (not recursive), keeping going past bad files so that a
 * linter can report them all.
 *
 * @throws ConfigError when the directory itself cannot be read.
 */
export async function readTemplates(dir: string): Promise<TemplateDirectory> {
  const absolute = resolve(dir);
  let names: string[];
  try {
    const entries = await readdir(absolute, { withFileTypes: true });
    names = entries
      .filter((e) => e.name.endsWith('.json') && (e.isFile() || e.isSymbolicLink()))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'policies directory not found' : String(err);
    throw new ConfigError(absolute, [reason]);
  }
  const templates = new Map<string, PolicyTemplate>();
  const failures = new Map<string, ConfigError>();
  const results = await Promise.all(
    names.map(async (name) => {
      const file = join(absolute, name);
      try {
        return parseTemplate(name, await readFile(file, 'utf8'), file);
      } catch (err) {
        if (err instanceof ConfigError) return err;
        return new ConfigError(file, [`cannot read: ${(err as Error).message}`]);
      }
    }),
  );
  results.forEach((result, i) => {
    if (result instanceof ConfigError) failures.set(names[i]!, result);
    else templates.set(result.name, result);
  });
  return { dir: absolute, templates, failures };
}

/**
 * Loads every template of `dir`, keyed by file name.
 *
 * @throws ConfigError listing the problems of every file that does not parse or compile, each
 *   naming the file, e.g. `/srv/policies: device.json: 3:14: expected ',' or '}'`.
 *
 * @example
 * ```ts
 * const templates = await loadTemplates(config.policiesDir);
 * const policy = renderPolicy(templates.get(profile.policy)!, values);
 * ```
 */
export async function loadTemplates(dir: string): Promise<Map<string, PolicyTemplate>> {
  const { dir: absolute, templates, failures } = await readTemplates(dir);
  if (failures.size > 0) {
    const problems = [...failures].flatMap(([name, f]) => f.problems.map((p) => `${name}: ${p}`));
    throw new ConfigError(absolute, problems);
  }
  return templates;
}
