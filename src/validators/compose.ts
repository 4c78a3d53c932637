/**
 * Runs a profile's validators as one all-of check and folds their answers into one result:
 * any deny wins (the first in config order), then a dependency failure, then every open
 * challenge at once (so the client answers them all in a single round trip), else a pass with
 * the facts of every validator merged.
 *
 * Several validators spend something when they pass — a captcha token is single-use at the
 * provider, a proof-of-work puzzle is marked used, an invite loses a use. So that a client
 * that still has a challenge to solve, or that is refused by one validator, does not lose what
 * it gave another, the run has three steps:
 * 1. every validator's side-effect-free `precheck` (open challenges, malformed answers,
 *    address lists); if any of them settles the request, nothing is spent;
 * 2. the remaining validators' `validate`, in parallel;
 * 3. only when all of those passed, the validators marked `spends` (invites, quotas), one at
 *    a time in config order.
 */
import type { KeyvendError } from '../errors.js';
import type {
  Challenge,
  PassFacts,
  ValidationContext,
  ValidationResult,
  Validator,
} from './validator.js';

/**
 * What keyvend's own validators add to the `Validator` contract so they compose well. Both
 * members are optional: a plain `Validator` is run in step 2.
 */
export interface ComposableValidator extends Validator {
  /**
   * Decides the request when that needs no side effect and no remote call: the challenge when
   * the answer is missing, a deny when it is malformed, a pass for validators that spend
   * nothing. Returns null when only `validate` can decide. `validate` must give the same
   * result for requests `precheck` decides.
   */
  precheck?(ctx: ValidationContext): Promise<ValidationResult | null>;
  /** Passing uses up something scarce (an invite use, a quota slot): run after all others. */
  readonly spends?: boolean;
}

/** A settled call: its result, or what it threw. */
export type Settled = { result: ValidationResult } | { error: unknown };

/** Runs `fn`, capturing a throw (sync or async) as a value. */
export async function settle(fn: () => Promise<ValidationResult>): Promise<Settled> {
  try {
    return { result: await fn() };
  } catch (error) {
    return { error };
  }
}

/**
 * Folds all-of results in config order: first deny, else first error (thrown), else every
 * challenge, else one pass with merged facts.
 */
export function foldAllOf(entries: readonly Settled[]): ValidationResult {
  const deny = entries.find(
    (e): e is { result: { outcome: 'deny'; error: KeyvendError } } =>
      'result' in e && e.result.outcome === 'deny',
  );
  if (deny) return deny.result;
  const failed = entries.find((e): e is { error: unknown } => 'error' in e);
  if (failed) throw failed.error;
  const results = entries.map((e) => (e as { result: ValidationResult }).result);
  const challenges = challengesOf(results);
  if (challenges.length > 0) return { outcome: 'challenge', challenges };
  return mergePasses(results);
}

/** Every challenge in `results`, in order. */
export function challengesOf(results: readonly ValidationResult[]): Challenge[] {
  return results.flatMap((r) => (r.outcome === 'challenge' ? r.challenges : []));
}

/**
 * One pass carrying the facts of every pass in `results`: the first `externalId` given, and
 * the attributes merged (an attribute set by an earlier validator in config order wins).
 */
export function mergePasses(results: readonly ValidationResult[]): ValidationResult {
  const facts: PassFacts = {};
  const attributes: Record<string, string> = {};
  for (const r of results) {
    if (r.outcome !== 'pass') continue;
    if (facts.externalId === undefined && r.externalId !== undefined)
      facts.externalId = r.externalId;
    for (const [key, value] of Object.entries(r.attributes ?? {})) {
      if (!Object.hasOwn(attributes, key)) attributes[key] = value;
    }
  }
  if (Object.keys(attributes).length > 0) facts.attributes = attributes;
  return { outcome: 'pass', ...facts };
}

/** The validator's precheck result, or null when it has none. */
export function precheckOf(v: Validator, ctx: ValidationContext): Promise<ValidationResult | null> {
  const c = v as ComposableValidator;
  return c.precheck ? c.precheck(ctx) : Promise.resolve(null);
}

/** Whether the validator spends something scarce when it passes. */
export function spendsOf(v: Validator): boolean {
  return (v as ComposableValidator).spends === true;
}

/**
 * Runs every validator (all must pass) and returns the one result to answer with. Throws only
 * what a validator threw for a dependency failure (`KEYVEND_VALIDATOR_UNAVAILABLE`), and only
 * when no validator denied.
 *
 * @param ctxFor - the context for one validator (its `answer` is `body.answers[v.id]`).
 * @example
 * ```ts
 * const result = await runValidators(validators, (v) => ({ ...base, answer: answers[v.id] }));
 * if (result.outcome === 'challenge') throw challengeError(result.challenges);
 * ```
 */
export async function runValidators(
  validators: readonly Validator[],
  ctxFor: (v: Validator) => ValidationContext,
): Promise<ValidationResult> {
  const ctxs = validators.map((v) => ctxFor(v));
  const pre = await Promise.all(
    validators.map(async (v, i): Promise<{ pre: ValidationResult | null } | { error: unknown }> => {
      try {
        return { pre: await precheckOf(v, ctxs[i]!) };
      } catch (error) {
        return { error };
      }
    }),
  );

  // Step 1: settled without side effects?
  const decided: Settled[] = [];
  for (const p of pre) {
    if ('error' in p) decided.push({ error: p.error });
    else if (p.pre !== null && p.pre.outcome !== 'pass') decided.push({ result: p.pre });
  }
  if (decided.length > 0) return foldAllOf(decided);

  // Step 2: the validators that spend nothing scarce, in parallel.
  const open = validators.flatMap((v, i) => {
    const p = pre[i]!;
    return 'pre' in p && p.pre === null ? [{ v, ctx: ctxs[i]!, i }] : [];
  });
  const settled = new Map<number, Settled>();
  for (const [i, p] of pre.entries()) {
    if ('pre' in p && p.pre !== null) settled.set(i, { result: p.pre });
  }
  const parallel = open.filter((o) => !spendsOf(o.v));
  const outcomes = await Promise.all(parallel.map((o) => settle(() => o.v.validate(o.ctx))));
  for (const [k, o] of parallel.entries()) settled.set(o.i, outcomes[k]!);
  const inOrder = () => [...settled.entries()].sort(([a], [b]) => a - b).map(([, s]) => s);
  const sofar = foldAllOf(inOrder());
  if (sofar.outcome !== 'pass') return sofar;

  // Step 3: the spenders, one at a time, stopping at the first that does not pass.
  for (const o of open.filter((x) => spendsOf(x.v))) {
    const s = await settle(() => o.v.validate(o.ctx));
    if ('error' in s) throw s.error;
    if (s.result.outcome !== 'pass') return s.result;
    settled.set(o.i, s);
  }
  return foldAllOf(inOrder());
}

/**
 * The answer a registration body carries for validator `id`: `body.answers[id]` when
 * `answers` is an object holding that key as its own property, else undefined (so an id such
 * as `constructor` never reads an inherited value).
 */
export function answerFor(body: Readonly<Record<string, unknown>>, id: string): unknown {
  const answers = body.answers;
  if (answers === null || typeof answers !== 'object' || Array.isArray(answers)) return undefined;
  return Object.hasOwn(answers, id) ? (answers as Record<string, unknown>)[id] : undefined;
}
