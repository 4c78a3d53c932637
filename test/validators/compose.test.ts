import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptchaValidatorConfig } from '../../src/config/validator-schemas.js';
import { KeyvendError } from '../../src/errors.js';
import type { Store } from '../../src/stores/store.js';
import { AnyOfValidator } from '../../src/validators/any-of.js';
import { CaptchaValidator } from '../../src/validators/captcha.js';
import {
  answerFor,
  type ComposableValidator,
  runValidators,
} from '../../src/validators/compose.js';
import { NoneValidator } from '../../src/validators/none.js';
import type { ValidationContext, ValidationResult } from '../../src/validators/validator.js';
import { type SiteverifyServer, startSiteverifyServer } from '../support/siteverify-server.js';
import { contextsFrom, makeContext, openTestStore } from './fixtures.js';

let store: Store;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(() => store.close());

/** A scripted validator that records which of its methods ran. */
function scripted(
  id: string,
  result: ValidationResult | Error,
  opts: { spends?: boolean; pre?: ValidationResult | null } = {},
): ComposableValidator & { calls: string[]; answers: unknown[] } {
  const calls: string[] = [];
  const answers: unknown[] = [];
  return {
    type: 'scripted',
    id,
    calls,
    answers,
    spends: opts.spends ?? false,
    async precheck() {
      calls.push('precheck');
      return opts.pre ?? null;
    },
    async validate(ctx: ValidationContext) {
      calls.push('validate');
      answers.push(ctx.answer);
      if (result instanceof Error) throw result;
      return result;
    },
  };
}

const pass = (facts: object = {}): ValidationResult => ({ outcome: 'pass', ...facts });
const challenge = (id: string): ValidationResult => ({
  outcome: 'challenge',
  challenges: [{ type: 'scripted', id }],
});
const deny = (code: 'KEYVEND_INVITE_INVALID' | 'KEYVEND_NETWORK_DENIED'): ValidationResult => ({
  outcome: 'deny',
  error: new KeyvendError(code),
});
const down = () =>
  new KeyvendError('KEYVEND_VALIDATOR_UNAVAILABLE', undefined, { cause: new Error('boom') });

const run = (
  validators: Parameters<typeof runValidators>[0],
  answers: Record<string, unknown> = {},
) => runValidators(validators, contextsFrom(makeContext(store, { answers })));

describe('runValidators', () => {
  it('passes when every validator passes, merging their facts in config order', async () => {
    const result = await run([
      scripted('a', pass({ attributes: { tier: 'gold', region: 'eu' } })),
      scripted(
        'b',
        pass({ externalId: 'oidc:https://id.example#42', attributes: { tier: 'free' } }),
      ),
      new NoneValidator(),
    ]);
    expect(result).toEqual({
      outcome: 'pass',
      externalId: 'oidc:https://id.example#42',
      attributes: { tier: 'gold', region: 'eu' },
    });
  });

  it('gives each validator its own answer from body.answers', async () => {
    const a = scripted('a', pass());
    const b = scripted('b', pass());
    await run([a, b], { a: 'for-a', b: { x: 1 } });
    expect(a.answers).toEqual(['for-a']);
    expect(b.answers).toEqual([{ x: 1 }]);
  });

  it('lists the open challenges of every validator in one reply', async () => {
    const result = await run([
      scripted('a', pass(), { pre: challenge('a') }),
      new NoneValidator(),
      scripted('b', pass(), { pre: challenge('b') }),
    ]);
    expect(result).toEqual({
      outcome: 'challenge',
      challenges: [
        { type: 'scripted', id: 'a' },
        { type: 'scripted', id: 'b' },
      ],
    });
  });

  it('answers with the first deny in config order, even when others challenge', async () => {
    const result = await run([
      scripted('a', pass(), { pre: challenge('a') }),
      scripted('b', pass(), { pre: deny('KEYVEND_NETWORK_DENIED') }),
      scripted('c', pass(), { pre: deny('KEYVEND_INVITE_INVALID') }),
    ]);
    expect(result.outcome === 'deny' && result.error.code).toBe('KEYVEND_NETWORK_DENIED');
  });

  it('merges facts in config order, whether a validator decided in precheck or validate', async () => {
    const result = await run([
      scripted('a', pass({ attributes: { source: 'a' } })),
      scripted('b', pass(), { pre: pass({ attributes: { source: 'b', only: 'b' } }) }),
    ]);
    expect(result).toEqual({ outcome: 'pass', attributes: { source: 'a', only: 'b' } });
  });

  it('throws a dependency failure when nothing denied', async () => {
    await expect(run([scripted('a', pass()), scripted('b', down())])).rejects.toMatchObject({
      code: 'KEYVEND_VALIDATOR_UNAVAILABLE',
    });
  });

  it('prefers a deny over a dependency failure', async () => {
    const result = await run([
      scripted('a', down()),
      scripted('b', deny('KEYVEND_INVITE_INVALID')),
    ]);
    expect(result.outcome).toBe('deny');
  });

  it('does not spend an answered validator while another still has an open challenge', async () => {
    const answered = scripted('a', pass());
    await run([answered, scripted('b', pass(), { pre: challenge('b') })], { a: 'x' });
    expect(answered.calls).toEqual(['precheck']);
  });

  it('runs validators that spend (invites, quotas) only after all others passed', async () => {
    const spender = scripted('invite', pass(), { spends: true });
    const refused = await run([spender, scripted('captcha', deny('KEYVEND_NETWORK_DENIED'))]);
    expect(refused.outcome).toBe('deny');
    expect(spender.calls).toEqual(['precheck']);

    const order: string[] = [];
    const first = scripted('first', pass(), { spends: true });
    const second = scripted('second', deny('KEYVEND_INVITE_INVALID'), { spends: true });
    const third = scripted('third', pass(), { spends: true });
    for (const v of [first, second, third]) {
      const validate = v.validate.bind(v);
      v.validate = async (ctx) => {
        order.push(v.id);
        return validate(ctx);
      };
    }
    const result = await run([first, second, third, scripted('plain', pass())]);
    expect(result.outcome).toBe('deny');
    expect(order).toEqual(['first', 'second']);
  });

  it('runs a plain Validator without precheck in the parallel step', async () => {
    let ran = false;
    const result = await run([
      {
        type: 'plain',
        id: 'plain',
        async validate() {
          ran = true;
          return pass({ attributes: { plain: 'yes' } });
        },
      },
    ]);
    expect(ran).toBe(true);
    expect(result).toEqual({ outcome: 'pass', attributes: { plain: 'yes' } });
  });
});

describe('anyOf', () => {
  it('passes when one member passes, reading members answers by their own ids', async () => {
    const a = scripted('a', deny('KEYVEND_INVITE_INVALID'));
    const b = scripted('b', pass({ attributes: { via: 'b' } }));
    const result = await run([new AnyOfValidator('either', [a, b])], { a: 'code', b: 'token' });
    expect(result).toEqual({ outcome: 'pass', attributes: { via: 'b' } });
    expect(a.answers).toEqual(['code']);
    expect(b.answers).toEqual(['token']);
  });

  it('asks for the challenges of every member when none passes', async () => {
    const group = new AnyOfValidator('either', [
      scripted('a', pass(), { pre: challenge('a') }),
      scripted('b', deny('KEYVEND_INVITE_INVALID')),
      scripted('c', pass(), { pre: challenge('c') }),
    ]);
    const result = await run([group]);
    expect(result.outcome === 'challenge' && result.challenges.map((c) => c.id)).toEqual([
      'a',
      'c',
    ]);
  });

  it('answers with the first deny when no member passes or challenges', async () => {
    const group = new AnyOfValidator('either', [
      scripted('a', deny('KEYVEND_NETWORK_DENIED')),
      scripted('b', deny('KEYVEND_INVITE_INVALID')),
    ]);
    const result = await run([group]);
    expect(result.outcome === 'deny' && result.error.code).toBe('KEYVEND_NETWORK_DENIED');
  });

  it('passes through another member when one member is unavailable', async () => {
    const group = new AnyOfValidator('either', [scripted('a', down()), scripted('b', pass())]);
    expect(await run([group])).toEqual({ outcome: 'pass' });
  });

  it('throws an unavailable member when no other member passes or challenges', async () => {
    const group = new AnyOfValidator('either', [
      scripted('a', down()),
      scripted('b', deny('KEYVEND_INVITE_INVALID')),
    ]);
    await expect(run([group])).rejects.toMatchObject({ code: 'KEYVEND_VALIDATOR_UNAVAILABLE' });
  });

  it('keeps an invite unspent when another member passes', async () => {
    const invite = scripted('invite', pass(), { spends: true });
    const group = new AnyOfValidator('either', [invite, scripted('captcha', pass())]);
    expect(group.spends).toBe(true);
    expect(await run([group], { invite: 'code', captcha: 'tok' })).toEqual({ outcome: 'pass' });
    expect(invite.calls).not.toContain('validate');
  });
});

describe('composition with a real captcha', () => {
  let sv: SiteverifyServer;
  beforeAll(async () => {
    sv = await startSiteverifyServer();
  });
  afterAll(() => sv.stop());

  const captcha = () => {
    const c = {
      type: 'captcha',
      provider: 'hcaptcha',
      siteKey: 'site',
      secretEnv: 'X',
      verifyUrl: sv.url,
      timeoutMs: 2000,
    };
    Object.defineProperty(c, 'secret', { value: 'shh', enumerable: false });
    return new CaptchaValidator(c as CaptchaValidatorConfig);
  };

  it('does not send the captcha token to the provider while another challenge is open', async () => {
    sv.accept('tok-keep');
    const before = sv.requests.length;
    const first = await run([captcha(), scripted('pow', pass(), { pre: challenge('pow') })], {
      captcha: 'tok-keep',
    });
    expect(first.outcome).toBe('challenge');
    expect(sv.requests.length).toBe(before);
    // The client answers the other challenge and re-sends the same, still unspent, token.
    expect(await run([captcha(), scripted('pow', pass())], { captcha: 'tok-keep' })).toEqual({
      outcome: 'pass',
    });
  });
});

describe('answerFor', () => {
  it('reads only own properties of answers', () => {
    expect(answerFor({ answers: { captcha: 't' } }, 'captcha')).toBe('t');
    expect(answerFor({ answers: {} }, 'constructor')).toBeUndefined();
    expect(answerFor({ answers: ['x'] }, '0')).toBeUndefined();
    expect(answerFor({}, 'captcha')).toBeUndefined();
  });
});
