import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { loadProfilePolicies } from '../../src/policy/profile-policies.js';

const POLICIES_DIR = fileURLToPath(new URL('../../policies', import.meta.url));

describe('loadProfilePolicies', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyvend-profile-policies-'));
    await cp(POLICIES_DIR, join(dir, 'policies'), { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const config = (profiles: Record<string, unknown>) =>
    buildConfig(
      { aws: { region: 'eu-west-1' }, profiles },
      { file: join(dir, 'keyvend.json'), baseDir: dir, env: {} },
    );
  const profile = (policy: string, params: Record<string, string> = {}) => ({
    validators: [{ type: 'none' }],
    issuer: { type: 'federation-token' },
    policy,
    params,
  });

  it('returns every template when each profile template lints clean', async () => {
    const { templates, warnings } = await loadProfilePolicies(
      config({ mobile: profile('device-s3-prefix.json', { bucket: 'data', spare: 'x' }) }),
    );
    expect(templates.has('device-s3-prefix.json')).toBe(true);
    expect(warnings).toEqual([
      'profiles.mobile.policy (device-s3-prefix.json): profiles.mobile.params.spare: not used by device-s3-prefix.json',
    ]);
  });

  it('refuses to start with a profile whose template does not lint, naming profile and template', async () => {
    await writeFile(
      join(dir, 'policies', 'open.json'),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Principal: '*' }],
      }),
    );
    const err = await loadProfilePolicies(
      config({ mobile: profile('device-s3-prefix.json'), web: profile('open.json') }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'profiles.mobile.policy (device-s3-prefix.json): profiles.mobile.params: has no "bucket", which ${keyvend:param/bucket} needs',
      'profiles.web.policy (open.json): Statement[0].Principal: a session policy has no Principal (the session is the principal)',
    ]);
    expect((err as ConfigError).file).toBe(join(dir, 'keyvend.json'));
  });

  it('refuses to start when any template in the directory does not parse', async () => {
    await writeFile(join(dir, 'policies', 'broken.json'), '{ "Version": ');
    await expect(
      loadProfilePolicies(config({ mobile: profile('device-s3-prefix.json', { bucket: 'b' }) })),
    ).rejects.toThrow('broken.json: 1:14: unexpected end of file, expected a value');
  });
});
