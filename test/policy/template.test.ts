import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { JsonObject, JsonValue } from '../../src/policy/json-text.js';
import {
  compileTemplate,
  loadTemplates,
  parseTemplate,
  readTemplates,
} from '../../src/policy/template.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const policy = (resource: JsonValue): JsonObject => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: resource }],
});

describe('compileTemplate', () => {
  it('lists the keyvend variables it uses by full name, IAM variables left out', () => {
    const t = compileTemplate(
      't.json',
      policy([
        'arn:aws:s3:::${keyvend:param/bucket}/${keyvend:device}/*',
        'arn:aws:s3:::${keyvend:param/bucket}/${aws:userid}/${*}/${?}/${$}/${s3:prefix}',
      ]),
    );
    expect([...t.variables]).toEqual(['keyvend:param/bucket', 'keyvend:device']);
  });

  it('names the path and the variable of an unknown ${keyvend:…}', () => {
    expect(
      problemsOf(() => compileTemplate('t.json', policy('arn:aws:s3:::${keyvend:bucket}'))),
    ).toEqual([
      expect.stringMatching(
        /^Statement\[0\]\.Resource: unknown variable \$\{keyvend:bucket\} \(known: /,
      ),
    ]);
  });

  it.each([
    ['another letter case', '${KeyVend:device}'],
    ['a blank after ${', '${ keyvend:device}'],
    ['a default value', "${keyvend:device, 'x'}"],
    ['a bad param name', '${keyvend:param/1bucket}'],
    ['an empty param name', '${keyvend:param/}'],
  ])('refuses a keyvend variable written with %s', (_what, text) => {
    const problems = problemsOf(() => compileTemplate('t.json', policy(`arn:aws:s3:::b/${text}`)));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('unknown variable');
  });

  it('refuses an unterminated variable', () => {
    expect(problemsOf(() => compileTemplate('t.json', policy('arn:${keyvend:device')))).toEqual([
      'Statement[0].Resource: unterminated variable "${keyvend:device": missing \'}\'',
    ]);
  });

  it('refuses keyvend variables in object keys', () => {
    const doc = {
      ...policy('*'),
      Statement: [{ Condition: { StringEquals: { 'aws:PrincipalTag/${keyvend:device}': 'x' } } }],
    };
    expect(problemsOf(() => compileTemplate('t.json', doc))).toEqual([
      'Statement[0].Condition.StringEquals.aws:PrincipalTag/${keyvend:device}: keyvend variables may appear in string values only, not keys',
    ]);
  });

  it('reports every problem of a template at once', () => {
    const doc = policy(['${keyvend:a}', '${keyvend:b}']);
    expect(problemsOf(() => compileTemplate('t.json', doc))).toHaveLength(2);
  });
});

describe('parseTemplate', () => {
  it('keeps the parsed document as written', () => {
    const text = JSON.stringify(policy('arn:aws:s3:::${keyvend:param/bucket}/*'), null, 2);
    const t = parseTemplate('t.json', text, '/p/t.json');
    expect(t.document).toEqual(JSON.parse(text));
    expect([t.name, t.file]).toEqual(['t.json', '/p/t.json']);
  });

  it('names the file, line and column of a syntax error', () => {
    const err = (() => {
      try {
        parseTemplate('t.json', '{\n  "Version": "2012-10-17"\n  "Statement": []\n}', '/p/t.json');
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toBe("/p/t.json: 3:3: unexpected '\"', expected ',' or '}'");
  });
});

describe('loadTemplates', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyvend-templates-'));
    await writeFile(
      join(dir, 'b.json'),
      JSON.stringify(policy('arn:aws:s3:::${keyvend:param/bucket}')),
    );
    await writeFile(join(dir, 'a.json'), JSON.stringify(policy('*')));
    await writeFile(join(dir, 'notes.txt'), 'not a template');
    await mkdir(join(dir, 'sub.json'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('loads every *.json file of the directory, keyed by file name', async () => {
    const templates = await loadTemplates(dir);
    expect([...templates.keys()]).toEqual(['a.json', 'b.json']);
    expect(templates.get('b.json')?.file).toBe(join(dir, 'b.json'));
  });

  it('names each bad file with its line and column, and keeps going past it', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'keyvend-templates-bad-'));
    try {
      await writeFile(join(bad, 'good.json'), JSON.stringify(policy('*')));
      await writeFile(join(bad, 'broken.json'), '{\n  "Version": "2012-10-17",\n}');
      await writeFile(join(bad, 'unknown.json'), JSON.stringify(policy('${keyvend:nope}')));
      const read = await readTemplates(bad);
      expect([...read.templates.keys()]).toEqual(['good.json']);
      expect([...read.failures.keys()]).toEqual(['broken.json', 'unknown.json']);
      await expect(loadTemplates(bad)).rejects.toThrow(
        new RegExp(
          `^${bad}: broken\\.json: 3:1: unexpected '}', expected a "quoted" key\n${bad}: unknown\\.json: Statement\\[0\\]\\.Resource: unknown variable`,
        ),
      );
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });

  it('says so when the directory does not exist', async () => {
    await expect(loadTemplates(join(dir, 'missing'))).rejects.toThrow(
      `${join(dir, 'missing')}: policies directory not found`,
    );
  });
});
