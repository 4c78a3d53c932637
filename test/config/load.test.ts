/**
 * The config loader: defaults, one message per bad key naming the file and the key, secrets
 * resolved from the environment without becoming enumerable, and the published JSON Schema
 * kept in step with the schema in code.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig, loadConfig } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/write-schema.js';
import { ConfigError } from '../../src/errors.js';
import { REPO_ROOT } from '../support/paths.js';

const minimal = {
  profiles: {
    demo: {
      validators: [{ type: 'none' }],
      issuer: { type: 'federation-token' },
      policy: 'device-s3-prefix.json',
    },
  },
};

function problemsOf(raw: unknown, env = {}): string[] {
  try {
    buildConfig(raw, { file: '/etc/keyvend.json', baseDir: '/etc', env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('config loader', () => {
  it('fills defaults and resolves relative paths against the file', () => {
    const config = buildConfig(minimal, { baseDir: '/srv/kv', env: { AWS_REGION: 'eu-west-1' } });
    expect(config.server.port).toBe(8080);
    expect(config.store).toEqual({ type: 'sqlite', path: '/srv/kv/data/keyvend.db' });
    expect(config.policiesDir).toBe('/srv/kv/policies');
    expect(config.aws.region).toBe('eu-west-1');
    expect(config.profiles.demo?.ttl).toEqual({ default: 3600, max: 43_200 });
    expect(Object.isFrozen(config.profiles.demo)).toBe(true);
  });

  it('names the key of a value out of range', () => {
    const raw = structuredClone(minimal) as Record<string, unknown>;
    (raw.profiles as Record<string, Record<string, unknown>>).demo!.ttl = { default: 60 };
    expect(problemsOf(raw, { AWS_REGION: 'us-east-1' })).toEqual([
      'profiles.demo.ttl.default: must be >= 900',
    ]);
  });

  it('names unknown keys, missing keys and unknown types', () => {
    const problems = problemsOf(
      {
        server: { prot: 1 },
        profiles: { demo: { validators: [{ type: 'magic' }], policy: 'x.json' } },
      },
      { AWS_REGION: 'us-east-1' },
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'server.prot: unknown key',
        'profiles.demo.issuer: is required',
        'profiles.demo.validators[0].type: unknown type "magic"',
      ]),
    );
  });

  it('refuses a default TTL above the maximum', () => {
    const raw = structuredClone(minimal) as Record<string, unknown>;
    (raw.profiles as Record<string, Record<string, unknown>>).demo!.ttl = {
      default: 7200,
      max: 3600,
    };
    expect(problemsOf(raw, { AWS_REGION: 'us-east-1' })).toEqual([
      'profiles.demo.ttl.default: must be <= profiles.demo.ttl.max (3600)',
    ]);
  });

  it('requires a region when the local endpoint is off and AWS_REGION is unset', () => {
    expect(problemsOf(minimal, {})).toEqual([
      'aws.region: not set, and AWS_REGION is not in the environment',
    ]);
  });

  it('reads secrets from the named environment variable and keeps them out of JSON', () => {
    const raw = structuredClone(minimal) as Record<string, unknown>;
    (raw.profiles as Record<string, Record<string, unknown>>).demo!.validators = [
      { type: 'captcha', provider: 'turnstile', siteKey: 'site', secretEnv: 'CAPTCHA_SECRET' },
    ];
    const config = buildConfig(raw, {
      baseDir: '/x',
      env: { AWS_REGION: 'us-east-1', CAPTCHA_SECRET: 's3cr3t-value' },
    });
    const validator = config.profiles.demo?.validators[0] as { secret?: string };
    expect(validator.secret).toBe('s3cr3t-value');
    expect(JSON.stringify(config)).not.toContain('s3cr3t-value');
    expect(problemsOf(raw, { AWS_REGION: 'us-east-1' })).toEqual([
      'profiles.demo.validators[0].secretEnv: environment variable CAPTCHA_SECRET is not set',
    ]);
  });

  it('stops at a bad validator setting, naming the key', () => {
    const raw = structuredClone(minimal) as Record<string, unknown>;
    const demo = (raw.profiles as Record<string, Record<string, unknown>>).demo!;
    demo.validators = [{ type: 'proof-of-work', difficulty: 99 }];
    expect(problemsOf(raw, { AWS_REGION: 'us-east-1' })).toEqual([
      'profiles.demo.validators[0].difficulty: must be <= 32',
    ]);
    demo.validators = [{ type: 'none' }, { type: 'network', allow: ['10.0.0.0/33'] }];
    const problems = problemsOf(raw, { AWS_REGION: 'us-east-1' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^profiles\.demo\.validators\[1\]\.allow/);
  });

  it('reports a missing or unparsable file with its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-config-'));
    expect(() => loadConfig({ file: join(dir, 'absent.json'), env: {} })).toThrow(
      `${join(dir, 'absent.json')}: file not found`,
    );
    writeFileSync(join(dir, 'bad.json'), '{ "server": ');
    expect(() => loadConfig({ file: join(dir, 'bad.json'), env: {} })).toThrow(
      /bad\.json: not valid JSON/,
    );
  });

  it('takes the file from KEYVEND_CONFIG when no path is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-config-'));
    writeFileSync(join(dir, 'kv.json'), JSON.stringify(minimal));
    const config = loadConfig({
      env: { KEYVEND_CONFIG: join(dir, 'kv.json'), AWS_REGION: 'us-east-1' },
    });
    expect(config.file).toBe(join(dir, 'kv.json'));
  });

  it('loads the shipped embedded-default keyvend.json', () => {
    const config = loadConfig({ file: join(REPO_ROOT, 'keyvend.json'), env: {} });
    expect(config.aws.local.enabled).toBe(true);
    expect(Object.keys(config.profiles)).toContain('demo');
  });

  it('loads the docker-compose config, listening on every interface', () => {
    const config = loadConfig({ file: join(REPO_ROOT, 'deploy/keyvend.compose.json'), env: {} });
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.policiesDir).toBe(join(REPO_ROOT, 'policies'));
  });

  it('publishes keyvend.schema.json in step with the schema in code (npm run schema)', () => {
    const committed = JSON.parse(readFileSync(join(REPO_ROOT, 'keyvend.schema.json'), 'utf8'));
    expect(committed).toEqual(configJsonSchema());
  });
});
