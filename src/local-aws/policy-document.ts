/**
 * IAM policy documents as the local AWS endpoint accepts them: parsing and the structural
 * checks behind `MalformedPolicyDocument` (Version, Statement, Effect, Action/NotAction,
 * Resource/NotResource, Condition; no Principal in identity or session policies), and the
 * Version rule for policy variables: `${…}` is substituted only under `"Version":
 * "2012-10-17"`, so older or version-less documents are rewritten to keep `${` literal before
 * they reach the evaluator (`reference/sts-iam.md` §9).
 */
import { malformedPolicyDocument } from './aws-error.js';

/** A parsed policy document (its statements already checked). */
export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: unknown;
  NotPrincipal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** `identity` for identity and session policies, `trust` for role trust policies. */
export type PolicyKind = 'identity' | 'trust';

export const POLICY_VERSION = '2012-10-17';
const VERSIONS = new Set([POLICY_VERSION, '2008-10-17']);
const TOP_KEYS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Principal',
  'NotPrincipal',
  'Condition',
]);
const ACTION = /^(\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+)$/;

const SYNTAX = 'Syntax errors in policy.';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringOrStrings(value: unknown): value is string | string[] {
  if (typeof value === 'string') return value.length > 0;
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((v) => typeof v === 'string' && v.length > 0)
  );
}

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

function checkStatement(statement: unknown, kind: PolicyKind): void {
  if (!isRecord(statement)) throw malformedPolicyDocument(SYNTAX);
  for (const key of Object.keys(statement)) {
    if (!STATEMENT_KEYS.has(key)) throw malformedPolicyDocument(SYNTAX);
  }
  if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') {
    throw malformedPolicyDocument(SYNTAX);
  }
  if (statement.Sid !== undefined && typeof statement.Sid !== 'string') {
    throw malformedPolicyDocument(SYNTAX);
  }
  const hasPrincipal = statement.Principal !== undefined || statement.NotPrincipal !== undefined;
  if (kind === 'identity' && hasPrincipal) {
    throw malformedPolicyDocument('Policy document should not specify a principal.');
  }
  if (kind === 'trust' && !hasPrincipal) {
    throw malformedPolicyDocument('Missing required field Principal');
  }
  if ((statement.Action === undefined) === (statement.NotAction === undefined)) {
    throw malformedPolicyDocument(SYNTAX);
  }
  const actions = statement.Action ?? statement.NotAction;
  if (!isStringOrStrings(actions) || !asArray(actions).every((a) => ACTION.test(a))) {
    throw malformedPolicyDocument(SYNTAX);
  }
  const hasResource = statement.Resource !== undefined || statement.NotResource !== undefined;
  if (statement.Resource !== undefined && statement.NotResource !== undefined) {
    throw malformedPolicyDocument(SYNTAX);
  }
  if (kind === 'identity' && !hasResource) {
    throw malformedPolicyDocument(SYNTAX);
  }
  if (hasResource && !isStringOrStrings(statement.Resource ?? statement.NotResource)) {
    throw malformedPolicyDocument(SYNTAX);
  }
  if (statement.Condition !== undefined) {
    if (!isRecord(statement.Condition)) throw malformedPolicyDocument(SYNTAX);
    for (const block of Object.values(statement.Condition)) {
      if (!isRecord(block) || Object.keys(block).length === 0) {
        throw malformedPolicyDocument(SYNTAX);
      }
      for (const value of Object.values(block)) {
        const values = asArray(value);
        const ok = values.every(
          (v) => typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number',
        );
        if (!ok) throw malformedPolicyDocument(SYNTAX);
      }
    }
  }
}

/** Checks an already-parsed document; throws `MalformedPolicyDocument` when it is not one. */
export function checkPolicyDocument(value: unknown, kind: PolicyKind = 'identity'): PolicyDocument {
  if (!isRecord(value)) throw malformedPolicyDocument(SYNTAX);
  for (const key of Object.keys(value)) {
    if (!TOP_KEYS.has(key)) throw malformedPolicyDocument(SYNTAX);
  }
  if (
    value.Version !== undefined &&
    !(typeof value.Version === 'string' && VERSIONS.has(value.Version))
  ) {
    throw malformedPolicyDocument('The policy must contain a valid version string');
  }
  if (value.Id !== undefined && typeof value.Id !== 'string') throw malformedPolicyDocument(SYNTAX);
  const statements = value.Statement;
  if (statements === undefined || (Array.isArray(statements) && statements.length === 0)) {
    throw malformedPolicyDocument(SYNTAX);
  }
  for (const statement of asArray(statements)) checkStatement(statement, kind);
  return value as unknown as PolicyDocument;
}

/** Parses policy JSON text and checks it; throws `MalformedPolicyDocument`. */
export function parsePolicyDocument(text: string, kind: PolicyKind = 'identity'): PolicyDocument {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformedPolicyDocument('The policy is not in the valid JSON format.');
  }
  return checkPolicyDocument(parsed, kind);
}

/** Statements of a document as an array. */
export function statementsOf(document: PolicyDocument): PolicyStatement[] {
  return asArray(document.Statement);
}

function escapeVariables(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('${', '${$}{');
  if (Array.isArray(value)) return value.map(escapeVariables);
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeVariables(v)]));
  }
  return value;
}

/**
 * The document as the evaluator should see it: unchanged under Version 2012-10-17; otherwise
 * every `${` in Resource, NotResource and Condition values is escaped, so IAM's rule that
 * variables are literal text in older documents holds.
 */
export function forEvaluation(document: PolicyDocument): PolicyDocument {
  if (document.Version === POLICY_VERSION) return document;
  const statements = statementsOf(document).map((s) => {
    const out: PolicyStatement = { ...s };
    if (s.Resource !== undefined) out.Resource = escapeVariables(s.Resource) as string[];
    if (s.NotResource !== undefined) out.NotResource = escapeVariables(s.NotResource) as string[];
    if (s.Condition !== undefined) {
      out.Condition = escapeVariables(s.Condition) as Record<string, Record<string, unknown>>;
    }
    return out;
  });
  return { ...document, Version: POLICY_VERSION, Statement: statements };
}
