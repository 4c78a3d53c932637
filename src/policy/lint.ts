/**
 * Checks a policy template before any device needs it: the IAM grammar a session policy must
 * keep (Version, Statement, Effect, Action, Resource, Condition — no Principal), and the size
 * of the minified policy rendered with worst-case values against STS's 2,048-character limit.
 * Grammar is checked on the rendered document, so a variable inside an ARN or an action is
 * checked with a realistic value; messages quote the template as written.
 */
import type { Config } from '../config/schema.js';
import type { JsonObject, JsonValue } from './json-text.js';
import { PolicyRenderError, renderPolicy } from './render.js';
import type { PolicyTemplate } from './template.js';
import { paramName, type RenderValues, unsafeValueReason } from './variables.js';

/** GetFederationToken's limit on the plaintext session policy, in characters. */
export const SESSION_POLICY_LIMIT = 2048;

/** Length assumed for a `${keyvend:param/NAME}` whose value is not known (an S3 bucket name's maximum). */
export const UNKNOWN_PARAM_LENGTH = 63;

/**
 * Each variable at its longest plausible length and with realistic characters: a principal
 * at STS's 32, ids as `stores/ids.ts` makes them, the longest region names.
 */
export const WORST_CASE_VALUES: Readonly<Omit<RenderValues, 'params'>> = Object.freeze({
  principal: `kv-d-${'a'.repeat(27)}`,
  device: `d-${'a'.repeat(24)}`,
  profile: 'p'.repeat(32),
  account: '123456789012',
  region: 'ap-southeast-3',
  user: `u-${'a'.repeat(24)}`,
});

export interface LintOptions {
  /** The profile's params; omitted: each param counts as `UNKNOWN_PARAM_LENGTH` characters. */
  params?: Readonly<Record<string, string>> | undefined;
  /** Largest allowed rendered, minified size; default `SESSION_POLICY_LIMIT`. */
  sizeLimit?: number;
  /** Profile name, for messages and `${keyvend:profile}`. */
  profile?: string | undefined;
}

export interface LintReport {
  errors: string[];
  warnings: string[];
  /** Characters of the minified policy rendered with worst-case values. */
  renderedSize: number;
}

/** A `lintAll` result: one profile's template checked with that profile's params. */
export interface ProfileLintReport extends LintReport {
  profile: string;
  template: string;
}

/** An element that takes exactly one of `key`/`notKey`: a string or non-empty string list. */
interface ListRule {
  key: string;
  notKey: string;
  pattern: RegExp;
  what: string;
}
const ACTIONS: ListRule = {
  key: 'Action',
  notKey: 'NotAction',
  pattern: /^(?:\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$/,
  what: 'an action: service:Action (wildcards * and ?) or *',
};
const RESOURCES: ListRule = {
  key: 'Resource',
  notKey: 'NotResource',
  pattern: /^(?:\*|arn:[^:\s]+:[^:\s]+:[^:\s]*:[^:\s]*:.+)$/,
  what: 'a resource: * or arn:partition:service:region:account:resource',
};
const SID = /^[A-Za-z0-9]+$/;
const CONDITION_KEY = /^[A-Za-z0-9-]+:\S+$/;
const POLICY_KEYS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
const OPERATORS = new Set(
  [
    'StringEquals StringNotEquals StringEqualsIgnoreCase StringNotEqualsIgnoreCase',
    'StringLike StringNotLike',
    'NumericEquals NumericNotEquals NumericLessThan NumericLessThanEquals',
    'NumericGreaterThan NumericGreaterThanEquals',
    'DateEquals DateNotEquals DateLessThan DateLessThanEquals DateGreaterThan',
    'DateGreaterThanEquals Bool BinaryEquals IpAddress NotIpAddress',
    'ArnEquals ArnLike ArnNotEquals ArnNotLike Null',
  ]
    .join(' ')
    .split(' '),
);

/**
 * Lints one template. `errors` empty means the template is safe to serve.
 *
 * @example
 * ```ts
 * const report = lintTemplate(template, { params: profile.params });
 * if (report.errors.length > 0) throw new ConfigError(template.file, report.errors);
 * ```
 */
export function lintTemplate(template: PolicyTemplate, opts: LintOptions = {}): LintReport {
  const sizeLimit = opts.sizeLimit ?? SESSION_POLICY_LIMIT;
  const errors: string[] = [];
  const warnings: string[] = [];
  const params = worstCaseParams(template, opts, errors, warnings);
  const values: RenderValues = {
    ...WORST_CASE_VALUES,
    profile: opts.profile ?? WORST_CASE_VALUES.profile,
    params,
  };

  let rendered: string;
  try {
    rendered = renderPolicy(template, values);
  } catch (err) {
    // Only a profile name outside the safe set gets here: every other value is ours.
    if (!(err instanceof PolicyRenderError)) throw err;
    errors.push(err.message);
    return { errors, warnings, renderedSize: 0 };
  }

  if (rendered.length > sizeLimit) {
    errors.push(
      `the rendered policy is ${rendered.length} characters with worst-case values, ` +
        `over the limit of ${sizeLimit}`,
    );
  }
  const bad = /[^\t\n\r\u0020-\u00ff]/.exec(rendered)?.[0];
  if (bad !== undefined) {
    const code = bad.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    errors.push(`holds the character U+${code}: STS accepts only U+0020–U+00FF in a policy`);
  }
  if (template.variables.has('keyvend:user')) {
    warnings.push(
      '${keyvend:user} renders only for devices linked to a user: for any other device ' +
        'the credential request fails',
    );
  }
  if (/\$\{aws:username/i.test(JSON.stringify(template.document))) {
    warnings.push(
      '${aws:username} is not set for federated users or role sessions: statements using it never match',
    );
  }

  new GrammarCheck(errors, warnings).policy(template.document, JSON.parse(rendered) as JsonValue);
  return { errors, warnings, renderedSize: rendered.length };
}

/**
 * Lints every profile's template with that profile's params. A profile naming a template
 * that is not in `templates` gets an error.
 */
export function lintAll(
  config: Pick<Config, 'profiles'>,
  templates: ReadonlyMap<string, PolicyTemplate>,
  opts: { sizeLimit?: number } = {},
): ProfileLintReport[] {
  return Object.entries(config.profiles).map(([profile, p]) => {
    const template = templates.get(p.policy);
    if (template === undefined) {
      return {
        profile,
        template: p.policy,
        errors: [
          `profiles.${profile}.policy: ${p.policy} is not a template in the policies directory`,
        ],
        warnings: [],
        renderedSize: 0,
      };
    }
    return {
      profile,
      template: p.policy,
      ...lintTemplate(template, { ...opts, params: p.params, profile }),
    };
  });
}

function worstCaseParams(
  template: PolicyTemplate,
  opts: LintOptions,
  errors: string[],
  warnings: string[],
): Record<string, string> {
  const at = opts.profile === undefined ? 'params' : `profiles.${opts.profile}.params`;
  const out: Record<string, string> = {};
  const used = new Set<string>();
  for (const variable of template.variables) {
    const name = paramName(variable);
    if (name === undefined) continue;
    used.add(name);
    // Distinct per param, so two params never look like a repeated action or resource.
    out[name] = name.padEnd(UNKNOWN_PARAM_LENGTH, 'x').slice(0, UNKNOWN_PARAM_LENGTH);
    if (opts.params === undefined) continue;
    const value = Object.hasOwn(opts.params, name) ? opts.params[name] : undefined;
    if (value === undefined) {
      errors.push(`${at}: has no ${JSON.stringify(name)}, which \${${variable}} needs`);
      continue;
    }
    const unsafe = unsafeValueReason(value);
    if (unsafe !== undefined) {
      errors.push(`${at}.${name}: value ${unsafe}`);
      continue;
    }
    out[name] = value;
  }
  for (const name of Object.keys(opts.params ?? {})) {
    if (!used.has(name)) warnings.push(`${at}.${name}: not used by ${template.name}`);
  }
  return out;
}

type Path = string;

/** Walks the template document and its rendered twin (same shape) together. */
class GrammarCheck {
  constructor(
    private readonly errors: string[],
    private readonly warnings: string[],
  ) {}

  policy(doc: JsonValue, out: JsonValue): void {
    if (!isObject(doc) || !isObject(out)) {
      this.errors.push('(top level): a policy must be a JSON object');
      return;
    }
    for (const key of Object.keys(doc)) {
      if (!POLICY_KEYS.has(key)) {
        this.errors.push(`${key}: unknown key (a policy holds Version, Statement and Id)`);
      }
    }
    if (doc.Version === undefined) {
      this.errors.push('Version: is required: "2012-10-17" (without it IAM ignores variables)');
    } else if (out.Version !== '2012-10-17') {
      this.errors.push(`Version: must be "2012-10-17", not ${JSON.stringify(doc.Version)}`);
    }
    if (doc.Id !== undefined && typeof doc.Id !== 'string') {
      this.errors.push('Id: must be a string');
    }
    const statements = doc.Statement;
    const rendered = out.Statement;
    if (statements === undefined || rendered === undefined) {
      this.errors.push('Statement: is required');
    } else if (Array.isArray(statements) && Array.isArray(rendered)) {
      if (statements.length === 0) this.errors.push('Statement: must not be an empty array');
      const sids = new Set<string>();
      statements.forEach((s, i) => {
        this.statement(s, rendered[i]!, `Statement[${i}]`, sids);
      });
    } else {
      this.statement(statements, rendered, 'Statement', new Set());
    }
  }

  private statement(doc: JsonValue, out: JsonValue, path: Path, sids: Set<string>): void {
    if (!isObject(doc) || !isObject(out)) {
      this.errors.push(`${path}: a statement must be a JSON object`);
      return;
    }
    for (const key of Object.keys(doc)) {
      if (key === 'Principal' || key === 'NotPrincipal') {
        this.errors.push(
          `${path}.${key}: a session policy has no ${key} (the session is the principal)`,
        );
      } else if (!STATEMENT_KEYS.has(key)) {
        this.errors.push(`${path}.${key}: unknown key`);
      }
    }
    if (doc.Sid !== undefined) {
      if (typeof out.Sid !== 'string' || !SID.test(out.Sid)) {
        this.errors.push(
          `${path}.Sid: must be letters and digits only, not ${JSON.stringify(doc.Sid)}`,
        );
      } else if (sids.has(out.Sid)) {
        this.errors.push(`${path}.Sid: ${JSON.stringify(doc.Sid)} is used by another statement`);
      } else {
        sids.add(out.Sid);
      }
    }
    if (doc.Effect === undefined) {
      this.errors.push(`${path}.Effect: is required: "Allow" or "Deny"`);
    } else if (out.Effect !== 'Allow' && out.Effect !== 'Deny') {
      this.errors.push(
        `${path}.Effect: must be "Allow" or "Deny", not ${JSON.stringify(doc.Effect)}`,
      );
    }
    const allow = out.Effect === 'Allow';
    const actions = this.exactlyOne(doc, out, path, ACTIONS);
    const resources = this.exactlyOne(doc, out, path, RESOURCES);
    if (
      allow &&
      actions?.key === 'Action' &&
      actions.values.includes('*') &&
      resources?.key === 'Resource' &&
      resources.values.includes('*')
    ) {
      this.warnings.push(`${path}: allows every action on every resource`);
    }
    if (allow && actions?.key === 'NotAction') {
      this.warnings.push(`${path}: Allow with NotAction allows every action not listed`);
    }
    if (allow && resources?.key === 'NotResource') {
      this.warnings.push(`${path}: Allow with NotResource allows every resource not listed`);
    }
    if (doc.Condition !== undefined) this.condition(doc.Condition, `${path}.Condition`);
  }

  /** Checks that exactly one of `key`/`notKey` is present and is a list of matching strings. */
  private exactlyOne(
    doc: JsonObject,
    out: JsonObject,
    path: Path,
    { key, notKey, pattern, what }: ListRule,
  ): { key: string; values: string[] } | undefined {
    const has = doc[key] !== undefined;
    const hasNot = doc[notKey] !== undefined;
    if (has === hasNot) {
      this.errors.push(`${path}: needs exactly one of ${key} and ${notKey}`);
      return undefined;
    }
    const which = has ? key : notKey;
    const items = stringList(doc[which]!);
    const rendered = stringList(out[which]!);
    if (items === undefined || rendered === undefined) {
      this.errors.push(`${path}.${which}: must be a string or a non-empty array of strings`);
      return undefined;
    }
    const listed = Array.isArray(doc[which]);
    const seen = new Set<string>();
    rendered.forEach((value, i) => {
      const at = listed ? `${path}.${which}[${i}]` : `${path}.${which}`;
      if (!pattern.test(value)) {
        this.errors.push(`${at}: ${JSON.stringify(items[i])} is not ${what}`);
      }
      if (seen.has(value)) this.warnings.push(`${at}: ${JSON.stringify(items[i])} is listed twice`);
      seen.add(value);
    });
    return { key: which, values: rendered };
  }

  private condition(doc: JsonValue, path: Path): void {
    if (!isObject(doc)) {
      this.errors.push(`${path}: must be an object of operator → { key: value }`);
      return;
    }
    if (Object.keys(doc).length === 0) this.warnings.push(`${path}: is empty`);
    for (const [operator, block] of Object.entries(doc)) {
      const at = `${path}.${operator}`;
      if (!knownOperator(operator)) this.errors.push(`${at}: unknown condition operator`);
      if (!isObject(block) || Object.keys(block).length === 0) {
        this.errors.push(`${at}: must be a non-empty object of condition key → value`);
        continue;
      }
      for (const [key, value] of Object.entries(block)) {
        if (!CONDITION_KEY.test(key)) {
          this.errors.push(`${at}: ${JSON.stringify(key)} is not a condition key (service:name)`);
        }
        const ok =
          typeof value === 'string' ||
          typeof value === 'boolean' ||
          typeof value === 'number' ||
          (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string'));
        if (!ok) {
          this.errors.push(
            `${at}.${key}: must be a string, a non-empty array of strings, a boolean or a number`,
          );
        }
      }
    }
  }
}

function knownOperator(operator: string): boolean {
  let base = operator.replace(/^(?:ForAllValues|ForAnyValue):/, '');
  if (base.endsWith('IfExists')) {
    base = base.slice(0, -'IfExists'.length);
    if (base === 'Null') return false;
  }
  return OPERATORS.has(base);
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringList(value: JsonValue): string[] | undefined {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) {
    return value as string[];
  }
  return undefined;
}
