// Tests for src/cli/policy-command.ts; kept in test/policy/ with the rest of the policy work.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { UsageError } from '../../src/cli/io.js';
import { parsePolicyArgs, run } from '../../src/cli/policy-command.js';

const POLICIES_DIR = fileURLToPath(new URL('../../policies', import.meta.url));
const DEVICE = 'd-abcdefghijklmnopqrstuvwx';

describe('parsePolicyArgs', () => {
  it('reads lint and render with their options, in both --x v and --x=v forms', () => {
    expect(parsePolicyArgs(['lint'])).toEqual({ verb: 'lint' });
    expect(parsePolicyArgs(['lint', '--config=k.json'])).toEqual({
      verb: 'lint',
      config: 'k.json',
    });
    expect(
      parsePolicyArgs([
        'render',
        '--profile',
        'mobile',
        `--device=${DEVICE}`,
        '--user',
        'u-1',
        '--account',
        '123456789012',
        '--region',
        'eu-west-1',
        '--config',
        'k.json',
      ]),
    ).toEqual({
      verb: 'render',
      profile: 'mobile',
      device: DEVICE,
      user: 'u-1',
      account: '123456789012',
      region: 'eu-west-1',
      config: 'k.json',
    });
    expect(parsePolicyArgs(['render', '--help'])).toEqual({ verb: 'help' });
  });

  it.each([
    ['no sub-command', [], 'a sub-command is needed'],
    ['an unknown sub-command', ['show'], 'unknown sub-command "show"'],
    [
      'an option of another sub-command',
      ['lint', '--profile', 'p'],
      'policy lint takes no --profile',
    ],
    ['a missing value', ['lint', '--config'], '--config needs a value'],
    [
      'an option as a value',
      ['render', '--profile', '--device', DEVICE],
      '--profile needs a value',
    ],
    ['a repeated option', ['lint', '--config', 'a', '--config=b'], '--config is given twice'],
    ['a stray argument', ['lint', 'extra'], 'unexpected argument "extra"'],
    [
      'render without --device',
      ['render', '--profile', 'p'],
      'policy render needs --profile and --device',
    ],
    [
      'a bad account id',
      ['render', '--profile', 'p', '--device', DEVICE, '--account', '12'],
      '--account must be a 12-digit',
    ],
  ])('refuses %s as a usage mistake', (_what, args, message) => {
    expect(() => parsePolicyArgs(args)).toThrow(UsageError);
    expect(() => parsePolicyArgs(args)).toThrow(message);
  });
});

describe('keyvend policy', () => {
  let dir: string;
  let out: string;
  let err: string;
  let io: CliIo;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyvend-policy-cli-'));
    await cp(POLICIES_DIR, join(dir, 'policies'), { recursive: true });
    out = '';
    err = '';
    io = {
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => {
        err += t;
      },
      env: {},
      cwd: dir,
    };
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function writeConfig(extra: Record<string, unknown> = {}): Promise<void> {
    const profile = (policy: string, params: Record<string, string>) => ({
      validators: [{ type: 'none' }],
      issuer: { type: 'federation-token' },
      policy,
      params,
    });
    const config = {
      aws: { region: 'eu-west-1', local: { enabled: true, accountId: '111122223333' } },
      profiles: {
        mobile: profile('device-s3-prefix.json', { bucket: 'my-app-data' }),
        iot: profile('dynamodb-leading-keys.json', { table: 'things' }),
      },
      ...extra,
    };
    await writeFile(join(dir, 'keyvend.json'), JSON.stringify(config));
  }

  it('lint prints one line per template and profile with its size, and exits 0 when all are clean', async () => {
    await writeConfig();
    expect(await run(['lint'], io)).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^abac-s3-prefix\.json +ok +\d+\/2048 chars$/);
    expect(lines[1]).toMatch(/^device-s3-prefix\.json +ok +\d+\/2048 chars$/);
    expect(lines[4]).toMatch(/^profile mobile \(device-s3-prefix\.json\) +ok +\d+\/2048 chars$/);
    expect(lines[5]).toMatch(/^profile iot \(dynamodb-leading-keys\.json\) +ok +\d+\/2048 chars$/);
    expect(err).toBe('');
  });

  it('lint lists every error, with line and column for a file that does not parse, and exits 1', async () => {
    await writeConfig();
    await writeFile(
      join(dir, 'policies', 'broken.json'),
      '{\n  "Version": "2012-10-17",\n  "Statement": [}\n',
    );
    await writeFile(
      join(dir, 'policies', 'wide.json'),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: { Effect: 'Allow', Action: '*', Resource: '*', Principal: '*' },
      }),
    );
    expect(await run(['lint'], io)).toBe(1);
    expect(out).toMatch(/^broken\.json +ERROR$/m);
    expect(out).toMatch(/^wide\.json +ERROR +\d+\/2048 chars$/m);
    expect(out).toContain("broken.json: error: 3:17: unexpected '}', expected a value");
    expect(out).toContain(
      'wide.json: error: Statement.Principal: a session policy has no Principal',
    );
    expect(out).toContain('wide.json: warning: Statement: allows every action on every resource');
  });

  it('render prints the pretty-printed policy, the account defaulting to the local endpoint', async () => {
    await writeConfig();
    expect(await run(['render', '--profile', 'iot', '--device', DEVICE], io)).toBe(0);
    expect(out).toContain('\n  "Statement": [\n');
    const policy = JSON.parse(out);
    expect(policy.Statement[0].Resource[0]).toBe(
      'arn:aws:dynamodb:eu-west-1:111122223333:table/things',
    );
    expect(
      policy.Statement[0].Condition['ForAllValues:StringEquals']['dynamodb:LeadingKeys'],
    ).toEqual(['${aws:userid}']);
  });

  it('render takes --account and --region over the config', async () => {
    await writeConfig();
    const args = [
      'render',
      '--profile',
      'iot',
      '--device',
      DEVICE,
      '--account',
      '444455556666',
      '--region',
      'us-east-2',
    ];
    expect(await run(args, io)).toBe(0);
    expect(JSON.parse(out).Statement[0].Resource[0]).toBe(
      'arn:aws:dynamodb:us-east-2:444455556666:table/things',
    );
  });

  it('render needs --account when the local endpoint is off', async () => {
    await writeConfig({ aws: { region: 'eu-west-1' } });
    await expect(run(['render', '--profile', 'iot', '--device', DEVICE], io)).rejects.toThrow(
      new UsageError('--account is needed (the local AWS endpoint is not enabled)'),
    );
  });

  it('render refuses an unknown profile as a usage mistake, listing the profiles', async () => {
    await writeConfig();
    await expect(run(['render', '--profile', 'tv', '--device', DEVICE], io)).rejects.toThrow(
      'no profile "tv" (profiles: mobile, iot)',
    );
  });

  it('render fails with the variable named, never the hostile value, for an unsafe value', async () => {
    await writeConfig();
    const args = ['render', '--profile', 'iot', '--device', DEVICE, '--region', 'eu-west-1"*'];
    expect(await run(args, io)).toBe(1);
    expect(err).toBe(
      'keyvend policy render: policy template dynamodb-leading-keys.json: ${keyvend:region} value contains a character other than letters, digits and _+=,.@:/-\n',
    );
    expect(out).toBe('');
  });
});
