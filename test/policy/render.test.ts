import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/policy/json-text.js';
import { PolicyRenderError, type RenderValues, renderPolicy } from '../../src/policy/render.js';
import { compileTemplate, loadTemplates, type PolicyTemplate } from '../../src/policy/template.js';

const VALUES: RenderValues = {
  principal: 'kv-d-abcdefghijklmnopqrstuvwx',
  device: 'd-abcdefghijklmnopqrstuvwx',
  profile: 'mobile',
  account: '123456789012',
  region: 'eu-west-1',
  user: null,
  params: { bucket: 'my-app-data', table: 'things', tag: 'team' },
};

/** Uses every variable, in every kind of place a string can be, next to IAM's own syntax. */
const KITCHEN_SINK: JsonValue = {
  Version: '2012-10-17',
  Id: 'quote " backslash \\ unicode é€ newline \n',
  Statement: [
    {
      Sid: 'Own',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:Put*', 's3:?etObject'],
      Resource: [
        'arn:aws:s3:::${keyvend:param/bucket}/devices/${keyvend:device}/*',
        'arn:aws:s3:::${keyvend:param/bucket}/users/${keyvend:user}/${aws:userid}/${*}${?}${$}',
        '${keyvend:device}${keyvend:device}',
        '${keyvend:principal}',
      ],
      Condition: {
        StringLike: { 's3:prefix': ['${keyvend:principal}/*', 'p/${keyvend:profile}/'] },
        StringEquals: { 'aws:PrincipalTag/team': '${aws:PrincipalTag/${keyvend:param/tag}}' },
        NumericLessThan: { 's3:max-keys': 10 },
        Bool: { 'aws:SecureTransport': true },
      },
    },
    {
      Effect: 'Deny',
      NotAction: 'dynamodb:*',
      Resource:
        'arn:aws:dynamodb:${keyvend:region}:${keyvend:account}:table/${keyvend:param/table}',
      Extra: [null, 0, -1.5, [], {}, '', '${s3:prefix}', [['${keyvend:account}']]],
    },
  ],
};

const SAFE = /^[A-Za-z0-9_+=,.@:/-]{1,128}$/;

/** Test oracle, independent of the renderer: what a string leaf must become. */
function expectedLeaf(text: string, values: RenderValues): string {
  return text.replace(/\$\{keyvend:([a-z]+)(?:\/([A-Za-z0-9_]+))?\}/g, (_, name, param) =>
    name === 'param' ? values.params[param]! : String(values[name as keyof RenderValues]),
  );
}

/** `*`, `?` and `${` outside keyvend variables: what a leaf may grant by pattern. */
function wildcards(text: string): number {
  return (text.replace(/\$\{keyvend:[^}]*\}/g, '').match(/\*|\?|\$\{/g) ?? []).length;
}

/** Asserts that `rendered` has exactly the template's shape and literal leaves. */
function expectSameStructure(template: JsonValue, rendered: JsonValue, values: RenderValues) {
  if (typeof template === 'string') {
    expect(typeof rendered).toBe('string');
    expect(rendered).toBe(expectedLeaf(template, values));
    expect(wildcards(rendered as string)).toBe(wildcards(template));
  } else if (Array.isArray(template)) {
    expect(Array.isArray(rendered)).toBe(true);
    const items = rendered as JsonValue[];
    expect(items).toHaveLength(template.length);
    for (const [i, item] of template.entries()) expectSameStructure(item, items[i]!, values);
  } else if (template !== null && typeof template === 'object') {
    expect(rendered).not.toBeNull();
    expect(typeof rendered === 'object' && !Array.isArray(rendered)).toBe(true);
    const object = rendered as Record<string, JsonValue>;
    expect(Object.keys(object)).toEqual(Object.keys(template));
    for (const [k, v] of Object.entries(template)) expectSameStructure(v, object[k]!, values);
  } else {
    expect(rendered).toBe(template);
  }
}

const HOSTILE_PIECES = [
  '"',
  '\\',
  '"}]',
  '"},{"Effect":"Allow","Action":"*","Resource":"*"},{"x":"',
  '*',
  '?',
  '${aws:userid}',
  '${*}',
  '${keyvend:device}',
  '$',
  '{',
  '}',
  "'",
  ' ',
  '\u0000',
  '\n',
  '\u2028',
  '\ud800',
  'é',
  '😀',
  '<',
  '%',
];

const safeValue = fc.stringMatching(/^[A-Za-z0-9_+=,.@:/-]{1,128}$/);
const hostileValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9_.-]{0,20}$/),
      fc.constantFrom(...HOSTILE_PIECES),
      fc.stringMatching(/^[A-Za-z0-9_.-]{0,20}$/),
    )
    .map((parts) => parts.join('')),
  fc.integer({ min: 120, max: 3000 }).map((n) => 'a'.repeat(n)),
  fc.constantFrom('', ...HOSTILE_PIECES),
);
// Mostly safe: a hostile value must often be the only bad one, or an earlier refusal hides it.
const value = fc.oneof({ weight: 4, arbitrary: safeValue }, { weight: 1, arbitrary: hostileValue });

const values: fc.Arbitrary<RenderValues> = fc.record({
  principal: value,
  device: value,
  profile: value,
  account: value,
  region: value,
  user: fc.option(value, { nil: null }),
  params: fc.record({ bucket: value, table: value, tag: value }),
});

function valueFor(name: string, v: RenderValues): string | null | undefined {
  const param = /^keyvend:param\/(.+)$/.exec(name)?.[1];
  if (param !== undefined) return v.params[param];
  return v[name.slice('keyvend:'.length) as Exclude<keyof RenderValues, 'params'>];
}

function checkRender(template: PolicyTemplate, v: RenderValues): void {
  const refusable = [...template.variables].filter((name) => {
    const x = valueFor(name, v);
    return typeof x !== 'string' || !SAFE.test(x);
  });
  let rendered: string;
  try {
    rendered = renderPolicy(template, v);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyRenderError);
    expect(refusable).toContain((err as PolicyRenderError).variable);
    return;
  }
  expect(refusable).toEqual([]);
  expectSameStructure(template.document, JSON.parse(rendered), v);
}

describe('renderPolicy', () => {
  const sink = compileTemplate('sink.json', KITCHEN_SINK);

  it('fills variables inside string values and returns minified JSON', () => {
    const t = compileTemplate('t.json', {
      Version: '2012-10-17',
      Statement: {
        Effect: 'Allow',
        Action: 's3:*',
        Resource: 'arn:aws:s3:::${keyvend:param/bucket}/devices/${keyvend:device}/*',
      },
    });
    expect(renderPolicy(t, VALUES)).toBe(
      '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*",' +
        '"Resource":"arn:aws:s3:::my-app-data/devices/d-abcdefghijklmnopqrstuvwx/*"}}',
    );
  });

  it('leaves IAM variables and escapes untouched for AWS to resolve', () => {
    const rendered = JSON.parse(renderPolicy(sink, { ...VALUES, user: 'u-x' }));
    expect(rendered.Statement[0].Resource[1]).toBe(
      'arn:aws:s3:::my-app-data/users/u-x/${aws:userid}/${*}${?}${$}',
    );
    expect(rendered.Statement[0].Condition.StringEquals['aws:PrincipalTag/team']).toBe(
      '${aws:PrincipalTag/team}',
    );
    expect(rendered.Statement[1].Extra[6]).toBe('${s3:prefix}');
  });

  it('renders the same text JSON.stringify would give for the substituted document', () => {
    const v = { ...VALUES, user: 'u-x' };
    const substituted = JSON.parse(JSON.stringify(KITCHEN_SINK), (_k, x) =>
      typeof x === 'string' ? expectedLeaf(x, v) : x,
    );
    expect(renderPolicy(sink, v)).toBe(JSON.stringify(substituted));
  });

  it('refuses to render ${keyvend:user} for a device with no user, naming the variable', () => {
    const err = (() => {
      try {
        renderPolicy(sink, VALUES);
      } catch (e) {
        return e as PolicyRenderError;
      }
    })();
    expect(err).toBeInstanceOf(PolicyRenderError);
    expect(err?.variable).toBe('keyvend:user');
    expect(err?.reason).toBe('missing');
    expect(err?.message).toBe(
      'policy template sink.json: ${keyvend:user} needs a device linked to a user, and this device has none',
    );
  });

  it('does not need values for variables the template does not use', () => {
    const t = compileTemplate('t.json', { Resource: 'arn:aws:s3:::${keyvend:param/bucket}' });
    expect(renderPolicy(t, { ...VALUES, device: '"*', user: null, params: { bucket: 'b' } })).toBe(
      '{"Resource":"arn:aws:s3:::b"}',
    );
  });

  it.each([
    ['a wildcard *', 'd-*'],
    ['a wildcard ?', 'd-?'],
    ['variable syntax', '${aws:userid}'],
    ['a quote', 'd-"'],
    ['a backslash', 'd-\\'],
    ['a blank', 'd- x'],
    ['a control character', 'd-\u0001'],
    ['a non-ASCII letter', 'd-é'],
    ['129 characters', 'a'.repeat(129)],
    ['nothing', ''],
  ])('refuses a value with %s, without quoting it', (_what, bad) => {
    const t = compileTemplate('t.json', { Resource: 'arn:aws:s3:::b/${keyvend:device}' });
    let err: unknown;
    try {
      renderPolicy(t, { ...VALUES, device: bad });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyRenderError);
    expect((err as PolicyRenderError).reason).toBe('unsafe');
    expect((err as PolicyRenderError).variable).toBe('keyvend:device');
    if (bad.length > 0) expect((err as Error).message).not.toContain(bad);
  });

  it('accepts every character of the safe set, up to 128 characters', () => {
    const t = compileTemplate('t.json', { Resource: '${keyvend:device}' });
    const all = 'ABCXYZabcxyz0189_+=,.@:/-';
    expect(JSON.parse(renderPolicy(t, { ...VALUES, device: all })).Resource).toBe(all);
    const long = 'a'.repeat(128);
    expect(JSON.parse(renderPolicy(t, { ...VALUES, device: long })).Resource).toBe(long);
  });

  it('reads params as own properties only, never from Object.prototype', () => {
    const t = compileTemplate('t.json', { Resource: '${keyvend:param/constructor}' });
    expect(() => renderPolicy(t, VALUES)).toThrow(
      'policy template t.json: ${keyvend:param/constructor} has no value',
    );
  });

  it('keeps the structure for any values, or refuses exactly when a used value is unsafe', () => {
    fc.assert(
      fc.property(values, (v) => checkRender(sink, v)),
      { numRuns: 400 },
    );
  });

  describe('shipped templates', () => {
    let shipped: Map<string, PolicyTemplate>;
    beforeAll(async () => {
      shipped = await loadTemplates(fileURLToPath(new URL('../../policies', import.meta.url)));
    });

    it('keep their structure for any values, or refuse', () => {
      expect(shipped.size).toBeGreaterThanOrEqual(4);
      fc.assert(
        fc.property(values, (v) => {
          for (const t of shipped.values()) checkRender(t, v);
        }),
        { numRuns: 100 },
      );
    });
  });
});
