import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExpires, run } from '../../src/cli/invites-command.js';
import { type CliIo, UsageError } from '../../src/cli/io.js';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.js';
import { InviteValidator } from '../../src/validators/invite.js';
import { makeContext } from './fixtures.js';

let dir: string;
let configFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keyvend-invites-cli-'));
  configFile = join(dir, 'keyvend.json');
  const profile = (validators: unknown[]) => ({
    validators,
    issuer: { type: 'federation-token' },
    policy: 'device.json',
  });
  writeFileSync(
    configFile,
    JSON.stringify({
      aws: { region: 'us-east-1' },
      store: { type: 'sqlite', path: './kv.db' },
      profiles: {
        beta: profile([{ type: 'invite' }]),
        open: profile([{ type: 'none' }]),
      },
    }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: {},
    cwd: dir,
  };
  const code = await run([...args, '--config', configFile], io);
  return { code, stdout, stderr };
}

describe('keyvend invites', () => {
  it('creates codes that the invite validator accepts, showing each code only on creation', async () => {
    const created = await cli(
      'create',
      '--profile',
      'beta',
      '--uses',
      '1',
      '--expires',
      '7d',
      '--count',
      '3',
    );
    expect(created.code).toBe(0);
    const codes = created.stdout.trim().split('\n');
    expect(codes).toHaveLength(3);
    expect(created.stderr).toMatch(/Created 3 invite codes for profile beta: 1 use each, expiring/);

    const listed = await cli('list', '--profile', 'beta');
    expect(listed.code).toBe(0);
    expect(listed.stdout.trim().split('\n')).toHaveLength(4);
    for (const c of codes) expect(listed.stdout).not.toContain(c);

    const store = await SqliteStore.open(join(dir, 'kv.db'));
    try {
      const v = new InviteValidator({ type: 'invite' });
      const result = await v.validate(makeContext(store, { profile: 'beta', answer: codes[0] }));
      expect(result).toEqual({ outcome: 'pass' });
    } finally {
      await store.close();
    }
  });

  it('lists as JSON with uses left and status', async () => {
    await cli('create', '--profile', 'beta', '--uses', '4', '--json');
    const { stdout } = await cli('list', '--json');
    const { invites } = JSON.parse(stdout);
    expect(
      invites.some(
        (i: { usesTotal: number; status: string }) => i.usesTotal === 4 && i.status === 'active',
      ),
    ).toBe(true);
  });

  it('warns when the profile has no invite validator', async () => {
    const { code, stderr } = await cli('create', '--profile', 'open', '--uses', '1');
    expect(code).toBe(0);
    expect(stderr).toMatch(/no invite validator/);
  });

  it.each([
    [['create', '--uses', '1'], /--profile is required/],
    [['create', '--profile', 'beta'], /--uses is required/],
    [['create', '--profile', 'beta', '--uses', 'many'], /--uses must be a whole number/],
    [['create', '--profile', 'beta', '--uses', '1', '--count', '0'], /--count must be/],
    [
      ['create', '--profile', 'beta', '--uses', '1', '--expires', 'tomorrow'],
      /--expires must be a duration/,
    ],
    [['create', '--profile', 'nope', '--uses', '1'], /no profile "nope"/],
    [['list', '--uses', '1'], /list takes only/],
    [['revoke'], /unknown sub-command "revoke"/],
  ])('refuses %j with a usage error', async (args, message) => {
    await expect(cli(...args)).rejects.toThrow(UsageError);
    await expect(cli(...args)).rejects.toThrow(message);
  });

  it.each([
    ['90s', 90],
    ['30m', 1800],
    ['12h', 43_200],
    ['7d', 604_800],
    ['2w', 1_209_600],
  ])('reads the duration %s as %i seconds', (text, seconds) => {
    expect(parseExpires(text)).toBe(seconds);
  });

  it.each(['0d', '59s', '7', '1y', '-1d', '11000w'])('refuses the duration %s', (text) => {
    expect(() => parseExpires(text)).toThrow(UsageError);
  });
});
