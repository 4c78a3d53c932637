/**
 * The `anyOf` group: passes when any one member passes, so a profile can offer alternatives
 * ("an invite code, or a captcha and nothing else"). Members answer under their own ids in the
 * registration's `answers`, like top-level validators.
 *
 * When no member passes, the group asks for the challenges of every member that has one (the
 * client may pick any), else it throws what an unavailable member threw (retrying may help),
 * else it answers with the first deny in config order. An unavailable member never blocks
 * another member's pass. Members that spend something scarce (an invite use) run only after
 * the others failed, so a client that passes the captcha keeps its invite.
 */
import {
  answerFor,
  type ComposableValidator,
  challengesOf,
  precheckOf,
  type Settled,
  settle,
  spendsOf,
} from './compose.js';
import type { ValidationContext, ValidationResult, Validator } from './validator.js';

export class AnyOfValidator implements ComposableValidator {
  readonly type = 'anyOf';
  readonly id: string;
  readonly members: readonly Validator[];
  readonly spends: boolean;

  constructor(id: string, members: readonly Validator[]) {
    if (members.length === 0) throw new Error('anyOf needs at least one validator');
    this.id = id;
    this.members = members;
    this.spends = members.some(spendsOf);
  }

  async precheck(ctx: ValidationContext): Promise<ValidationResult | null> {
    const pre = await this.#prechecks(ctx);
    const pass = pre.find((p) => 'result' in p && p.result?.outcome === 'pass');
    if (pass && 'result' in pass && pass.result) return pass.result;
    // A member that needs validate (or whose precheck failed) may still pass.
    if (pre.some((p) => 'error' in p || p.result === null)) return null;
    return foldAnyOf(pre.map((p) => ({ result: (p as { result: ValidationResult }).result })));
  }

  async validate(ctx: ValidationContext): Promise<ValidationResult> {
    const pre = await this.#prechecks(ctx);
    const outcomes: (Settled | undefined)[] = pre.map((p) =>
      'result' in p && p.result !== null ? { result: p.result } : undefined,
    );
    const early = outcomes.find((o) => o && 'result' in o && o.result.outcome === 'pass');
    if (early) return (early as { result: ValidationResult }).result;

    const open = this.members.flatMap((m, i) => (outcomes[i] === undefined ? [{ m, i }] : []));
    const parallel = open.filter((o) => !spendsOf(o.m));
    const results = await Promise.all(
      parallel.map((o) => settle(() => o.m.validate(this.#memberCtx(ctx, o.m)))),
    );
    for (const [k, o] of parallel.entries()) outcomes[o.i] = results[k];
    const passed = firstPass(outcomes);
    if (passed) return passed;

    for (const o of open.filter((x) => spendsOf(x.m))) {
      const s = await settle(() => o.m.validate(this.#memberCtx(ctx, o.m)));
      outcomes[o.i] = s;
      if ('result' in s && s.result.outcome === 'pass') return s.result;
    }
    return foldAnyOf(outcomes.filter((o): o is Settled => o !== undefined));
  }

  async close(): Promise<void> {
    await closeAll(this.members);
  }

  #memberCtx(ctx: ValidationContext, member: Validator): ValidationContext {
    return { ...ctx, answer: answerFor(ctx.body, member.id) };
  }

  #prechecks(
    ctx: ValidationContext,
  ): Promise<({ result: ValidationResult | null } | { error: unknown })[]> {
    return Promise.all(
      this.members.map(async (m) => {
        try {
          return { result: await precheckOf(m, this.#memberCtx(ctx, m)) };
        } catch (error) {
          return { error };
        }
      }),
    );
  }
}

function firstPass(outcomes: readonly (Settled | undefined)[]): ValidationResult | undefined {
  for (const o of outcomes) {
    if (o && 'result' in o && o.result.outcome === 'pass') return o.result;
  }
  return undefined;
}

/** No member passed: every challenge, else the first error (thrown), else the first deny. */
function foldAnyOf(outcomes: readonly Settled[]): ValidationResult {
  const results = outcomes.flatMap((o) => ('result' in o ? [o.result] : []));
  const challenges = challengesOf(results);
  if (challenges.length > 0) return { outcome: 'challenge', challenges };
  const failed = outcomes.find((o): o is { error: unknown } => 'error' in o);
  if (failed) throw failed.error;
  const deny = results.find((r) => r.outcome === 'deny');
  if (deny) return deny;
  throw new Error('anyOf: no member gave a result');
}

/** Closes every validator that holds resources, even when one of them fails to close. */
export async function closeAll(validators: readonly Validator[]): Promise<void> {
  const closing = await Promise.allSettled(validators.map((v) => v.close?.()));
  const failed = closing.find((c): c is PromiseRejectedResult => c.status === 'rejected');
  if (failed) throw failed.reason;
}
