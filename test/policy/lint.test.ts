import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject, JsonValue } from '../../src/policy/json-text.js';
import {
  lintAll,
  lintTemplate,
  SESSION_POLICY_LIMIT,
  UNKNOWN_PARAM_LENGTH,
  WORST_CASE_VALUES,
} from '../../src/policy/lint.js';
import { compileTemplate, loadTemplates, type PolicyTemplate } from '../../src/policy/template.js';

const POLICIES_DIR = fileURLToPath(new URL('../../policies', import.meta.url));

const statement = (extra: JsonObject = {}): JsonObject => ({
  Effect: 'Allow',
  Action: 's3:GetObject',
  Resource: 'arn:aws:s3:::bucket/*',
  ...extra,
});
const policy = (...statements: JsonValue[]): JsonObject => ({
  Version: '2012-10-17',
  Statement: statements,
});
const lint = (doc: JsonValue, opts = {}) => lintTemplate(compileTemplate('t.json', doc), opts);

describe('lintTemplate', () => {
  it('passes a well-formed policy and reports its minified size', () => {
    const doc = policy(
      statement({ Sid: 'Read', Condition: { Bool: { 'aws:SecureTransport': true } } }),
    );
    expect(lint(doc)).toEqual({
      errors: [],
      warnings: [],
      renderedSize: JSON.stringify(doc).length,
    });
  });

  it.each<[string, JsonValue, string]>([
    ['a non-object policy', ['x'], '(top level): a policy must be a JSON object'],
    ['a missing Version', { Statement: [statement()] }, 'Version: is required'],
    [
      'another Version',
      { Version: '2008-10-17', Statement: [statement()] },
      'Version: must be "2012-10-17", not "2008-10-17"',
    ],
    ['an unknown top-level key', { ...policy(statement()), Foo: 1 }, 'Foo: unknown key'],
    ['a missing Statement', { Version: '2012-10-17' }, 'Statement: is required'],
    ['an empty Statement array', policy(), 'Statement: must not be an empty array'],
    [
      'a statement that is not an object',
      policy('x'),
      'Statement[0]: a statement must be a JSON object',
    ],
    [
      'a Principal',
      policy(statement({ Principal: '*' })),
      'Statement[0].Principal: a session policy has no Principal',
    ],
    [
      'a NotPrincipal',
      policy(statement({ NotPrincipal: { AWS: '*' } })),
      'Statement[0].NotPrincipal: a session policy has no NotPrincipal',
    ],
    [
      'an unknown statement key',
      policy(statement({ Effekt: 'Allow' })),
      'Statement[0].Effekt: unknown key',
    ],
    [
      'a missing Effect',
      policy({ Action: '*', Resource: '*' }),
      'Statement[0].Effect: is required',
    ],
    [
      'a lower-case Effect',
      policy(statement({ Effect: 'allow' })),
      'Statement[0].Effect: must be "Allow" or "Deny", not "allow"',
    ],
    [
      'both Action and NotAction',
      policy(statement({ NotAction: 's3:*' })),
      'Statement[0]: needs exactly one of Action and NotAction',
    ],
    [
      'neither Resource nor NotResource',
      policy({ Effect: 'Deny', Action: '*' }),
      'Statement[0]: needs exactly one of Resource and NotResource',
    ],
    [
      'an empty Action list',
      policy(statement({ Action: [] })),
      'Statement[0].Action: must be a string or a non-empty array of strings',
    ],
    [
      'an action without a service',
      policy(statement({ Action: ['s3:GetObject', 'GetObject'] })),
      'Statement[0].Action[1]: "GetObject" is not an action',
    ],
    [
      'an action with a blank',
      policy(statement({ Action: 's3:Get Object' })),
      'Statement[0].Action: "s3:Get Object" is not an action',
    ],
    [
      'a resource that is not an ARN',
      policy(statement({ Resource: 'bucket/*' })),
      'Statement[0].Resource: "bucket/*" is not a resource',
    ],
    [
      'a Sid with a hyphen',
      policy(statement({ Sid: 'read-all' })),
      'Statement[0].Sid: must be letters and digits only, not "read-all"',
    ],
    [
      'a duplicate Sid',
      policy(statement({ Sid: 'A' }), statement({ Sid: 'A' })),
      'Statement[1].Sid: "A" is used by another statement',
    ],
    [
      'an unknown condition operator',
      policy(statement({ Condition: { StringEqual: { 's3:prefix': 'x' } } })),
      'Statement[0].Condition.StringEqual: unknown condition operator',
    ],
    [
      'NullIfExists',
      policy(statement({ Condition: { NullIfExists: { 'aws:x': 'true' } } })),
      'Statement[0].Condition.NullIfExists: unknown condition operator',
    ],
    [
      'an empty condition block',
      policy(statement({ Condition: { StringLike: {} } })),
      'Statement[0].Condition.StringLike: must be a non-empty object',
    ],
    [
      'a condition key without a service',
      policy(statement({ Condition: { StringLike: { prefix: 'x' } } })),
      'Statement[0].Condition.StringLike: "prefix" is not a condition key',
    ],
    [
      'an object as a condition value',
      policy(statement({ Condition: { StringLike: { 's3:prefix': { a: 1 } } } })),
      'Statement[0].Condition.StringLike.s3:prefix: must be a string, a non-empty array of strings, a boolean or a number',
    ],
    [
      'a character STS does not accept',
      policy(statement({ Sid: 'A', Resource: 'arn:aws:s3:::b/€' })),
      'holds the character U+20AC',
    ],
  ])('refuses %s', (_what, doc, message) => {
    const { errors } = lint(doc);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(message);
  });

  it.each([
    'StringLike',
    'ForAllValues:StringEquals',
    'ForAnyValue:StringLikeIfExists',
    'ArnNotLikeIfExists',
    'NumericLessThanEquals',
    'DateGreaterThan',
    'IpAddress',
    'Null',
  ])('accepts the condition operator %s', (operator) => {
    expect(
      lint(policy(statement({ Condition: { [operator]: { 'aws:x': ['a', 'b'] } } }))).errors,
    ).toEqual([]);
  });

  it('checks actions and ARNs with the values variables will have', () => {
    const doc = policy(
      statement({
        Action: 's3:${keyvend:param/action}',
        Resource: 'arn:aws:s3:::${keyvend:device}',
      }),
    );
    expect(lint(doc, { params: { action: 'GetObject' } }).errors).toEqual([]);
    expect(lint(doc, { params: { action: 'Get:Object' } }).errors).toEqual([
      'Statement[0].Action: "s3:${keyvend:param/action}" is not an action: service:Action (wildcards * and ?) or *',
    ]);
  });

  it('computes the size with every variable at its longest', () => {
    const doc = policy(
      statement({
        Resource:
          'arn:aws:s3:::b/${keyvend:principal}/${keyvend:device}/${keyvend:user}/${keyvend:account}/${keyvend:region}/${keyvend:profile}',
      }),
    );
    const filled = JSON.stringify(doc).replace(
      '${keyvend:principal}/${keyvend:device}/${keyvend:user}/${keyvend:account}/${keyvend:region}/${keyvend:profile}',
      `${'p'.repeat(32)}/${'d'.repeat(26)}/${'u'.repeat(26)}/${'1'.repeat(12)}/${'r'.repeat(14)}/${'x'.repeat(32)}`,
    );
    expect(lint(doc).renderedSize).toBe(filled.length);
    expect(WORST_CASE_VALUES.principal).toHaveLength(32);
  });

  it('counts params at their configured values, or at the assumed length when none are given', () => {
    const doc = policy(statement({ Resource: 'arn:aws:s3:::${keyvend:param/bucket}/*' }));
    const base = JSON.stringify(doc).length - '${keyvend:param/bucket}'.length;
    expect(lint(doc, { params: { bucket: 'abc' } }).renderedSize).toBe(base + 3);
    expect(lint(doc).renderedSize).toBe(base + UNKNOWN_PARAM_LENGTH);
  });

  it('refuses a policy over the size limit, saying how large it is', () => {
    const doc = policy(statement({ Resource: `arn:aws:s3:::${'b'.repeat(2100)}` }));
    const report = lint(doc);
    expect(report.renderedSize).toBeGreaterThan(SESSION_POLICY_LIMIT);
    expect(report.errors).toEqual([
      `the rendered policy is ${report.renderedSize} characters with worst-case values, over the limit of 2048`,
    ]);
    expect(lint(policy(statement()), { sizeLimit: 50 }).errors[0]).toContain(
      'over the limit of 50',
    );
  });

  it('names the profile of a missing or unsafe param, and warns of an unused one', () => {
    const doc = policy(
      statement({
        Resource: ['arn:aws:s3:::${keyvend:param/bucket}', 'arn:aws:s3:::${keyvend:param/other}'],
      }),
    );
    const report = lint(doc, { profile: 'mobile', params: { bucket: 'b*', spare: 'x' } });
    expect(report.errors).toEqual([
      'profiles.mobile.params.bucket: value contains a character other than letters, digits and _+=,.@:/-',
      'profiles.mobile.params: has no "other", which ${keyvend:param/other} needs',
    ]);
    expect(report.warnings).toEqual(['profiles.mobile.params.spare: not used by t.json']);
  });

  it.each<[string, JsonValue, string]>([
    [
      'Allow * on *',
      policy(statement({ Action: '*', Resource: '*' })),
      'allows every action on every resource',
    ],
    [
      'Allow with NotAction',
      policy(statement({ Action: undefined as never, NotAction: 's3:*' })),
      'Allow with NotAction',
    ],
    [
      'Allow with NotResource',
      policy(statement({ Resource: undefined as never, NotResource: 'arn:aws:s3:::b' })),
      'Allow with NotResource',
    ],
    [
      '${keyvend:user}',
      policy(statement({ Resource: 'arn:aws:s3:::b/${keyvend:user}' })),
      '${keyvend:user} renders only for devices linked to a user',
    ],
    [
      '${aws:username}',
      policy(statement({ Resource: 'arn:aws:s3:::b/${aws:username}' })),
      '${aws:username} is not set for federated users',
    ],
    [
      'a repeated action',
      policy(statement({ Action: ['s3:GetObject', 's3:GetObject'] })),
      'is listed twice',
    ],
  ])('warns of %s', (_what, doc, message) => {
    const cleaned = JSON.parse(JSON.stringify(doc)) as JsonValue;
    const report = lint(cleaned);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toContain(message);
  });
});

describe('shipped templates', () => {
  let shipped: Map<string, PolicyTemplate>;
  beforeAll(async () => {
    shipped = await loadTemplates(POLICIES_DIR);
  });

  it('include the four documented examples', () => {
    expect([...shipped.keys()].sort()).toEqual([
      'abac-s3-prefix.json',
      'device-s3-prefix.json',
      'dynamodb-leading-keys.json',
      'public-assets-read.json',
    ]);
  });

  it('lint clean with realistic params, well under the size limit', () => {
    for (const template of shipped.values()) {
      const report = lintTemplate(template, {
        params: Object.fromEntries(
          [...template.variables]
            .filter((v) => v.startsWith('keyvend:param/'))
            .map((v) => [v.slice('keyvend:param/'.length), 'my-app-data-eu-west-1']),
        ),
      });
      expect({ name: template.name, errors: report.errors, warnings: report.warnings }).toEqual({
        name: template.name,
        errors: [],
        warnings: [],
      });
      expect(report.renderedSize).toBeLessThan(SESSION_POLICY_LIMIT / 2);
    }
  });

  it('key per-device data on IAM variables AWS resolves, not on text keyvend fills', () => {
    const text = (name: string) => JSON.stringify(shipped.get(name)?.document);
    expect(text('device-s3-prefix.json')).toContain('devices/${aws:userid}/*');
    expect(text('dynamodb-leading-keys.json')).toContain(
      '"dynamodb:LeadingKeys":["${aws:userid}"]',
    );
    expect(text('abac-s3-prefix.json')).toContain('${aws:PrincipalTag/keyvend-device}');
    expect(shipped.get('abac-s3-prefix.json')?.variables).toEqual(
      new Set(['keyvend:param/bucket']),
    );
  });
});

describe('lintAll', () => {
  it("lints each profile's template with that profile's params", async () => {
    const templates = await loadTemplates(POLICIES_DIR);
    const profile = (policy: string, params: Record<string, string>) =>
      ({ policy, params }) as never;
    const reports = lintAll(
      {
        profiles: {
          mobile: profile('device-s3-prefix.json', { bucket: 'data' }),
          iot: profile('dynamodb-leading-keys.json', {}),
          web: profile('missing.json', {}),
        },
      },
      templates,
    );
    expect(reports.map((r) => [r.profile, r.template, r.errors])).toEqual([
      ['mobile', 'device-s3-prefix.json', []],
      [
        'iot',
        'dynamodb-leading-keys.json',
        ['profiles.iot.params: has no "table", which ${keyvend:param/table} needs'],
      ],
      [
        'web',
        'missing.json',
        ['profiles.web.policy: missing.json is not a template in the policies directory'],
      ],
    ]);
    expect(reports[0]?.renderedSize).toBe(
      lintTemplate(templates.get('device-s3-prefix.json')!, {
        params: { bucket: 'data' },
        profile: 'mobile',
      }).renderedSize,
    );
  });
});
