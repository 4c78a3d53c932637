import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonSyntaxError, parseJson } from '../../src/policy/json-text.js';

function syntaxError(text: string): JsonSyntaxError {
  try {
    parseJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) return err;
    throw err;
  }
  throw new Error(`parsed without error: ${text}`);
}

describe('parseJson', () => {
  it('reads every JSON value the way JSON.parse does', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const text = JSON.stringify(value, null, 1);
        try {
          expect(parseJson(text)).toEqual(JSON.parse(text));
        } catch (err) {
          // The one deliberate difference: integers beyond 2^53 cannot be kept exactly.
          expect((err as Error).message).toContain('cannot be kept exactly');
        }
      }),
      { numRuns: 200 },
    );
  });

  it('names the line and column of a syntax error', () => {
    const err = syntaxError('{\n  "a": 1,\n  "b" 2\n}');
    expect([err.line, err.column]).toEqual([3, 7]);
    expect(err.message).toBe("3:7: unexpected '2', expected ':'");
  });

  it('refuses a duplicate key, pointing at the second one', () => {
    const err = syntaxError('{\n  "Effect": "Deny",\n  "Effect": "Allow"\n}');
    expect(err.message).toBe('3:3: duplicate key "Effect"');
  });

  it.each([
    ['a trailing comma', '[1, 2,]', '1:7'],
    ['a comment', '{ // no\n}', '1:3'],
    ['single quotes', "{'a': 1}", '1:2'],
    ['NaN', '[NaN]', '1:2'],
    ['a leading zero', '[01]', '1:3'],
    ['a raw control character in a string', '["a\tb"]', '1:4'],
    ['an unknown escape', '["\\x41"]', '1:3'],
    ['a short \\u escape', '["\\u12"]', '1:3'],
    ['an unterminated string', '{"a": "b', '1:7'],
    ['text after the value', '{} {}', '1:4'],
    ['an empty file', '', '1:1'],
    ['an integer too large to keep exactly', '[12345678901234567890]', '1:2'],
  ])('refuses %s', (_what, text, at) => {
    expect(syntaxError(text).message.startsWith(`${at}:`)).toBe(true);
  });

  it('refuses nesting deeper than 64 levels instead of overflowing the stack', () => {
    expect(syntaxError(`${'['.repeat(100_000)}${']'.repeat(100_000)}`).message).toContain(
      'nested deeper than 64',
    );
  });

  it('keeps "__proto__" as an ordinary key without touching the prototype', () => {
    const value = parseJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decodes escapes and skips a byte-order mark', () => {
    expect(parseJson('\ufeff["\\u0024{x}", "\\"\\\\\\/\\n"]')).toEqual(['${x}', '"\\/\n']);
  });
});
