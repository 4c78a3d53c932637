/**
 * `keyvend credential-process` against a real keyvend: in-process runs for the file handling,
 * the cache and the error messages, and the AWS SDK's own `fromProcess` provider spawning the
 * command from a shared-config profile, as the AWS CLI would.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromProcess } from '@aws-sdk/credential-provider-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCredentialProcess } from '../../src/cli/credential-process-command.js';
import type { CliIo } from '../../src/cli/io.js';
import { UsageError } from '../../src/cli/io.js';
import type { FetchLike } from '../../src/client/index.js';
import { DEMO_PROFILE, type Keyvend, startKeyvend } from '../support/harness.js';
import { REPO_ROOT } from '../support/paths.js';

const CAPTCHA_PROFILE = {
  ...DEMO_PROFILE,
  validators: [
    { type: 'captcha', provider: 'turnstile', siteKey: 'site-key', secretEnv: 'CAPTCHA_SECRET' },
  ],
};

describe('keyvend credential-process', () => {
  let kv: Keyvend;
  let dir: string;
  let requests: string[];
  beforeAll(async () => {
    kv = await startKeyvend({
      config: {
        profiles: {
          demo: DEMO_PROFILE,
          captcha: CAPTCHA_PROFILE,
          pow: { ...DEMO_PROFILE, validators: [{ type: 'proof-of-work', difficulty: 8 }] },
        },
      },
      env: { CAPTCHA_SECRET: 'not-used' },
    });
    dir = mkdtempSync(join(tmpdir(), 'keyvend-cp-'));
  });
  afterAll(async () => {
    await kv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const countingFetch: FetchLike = (url, init) => {
    requests.push(`${init.method} ${new URL(url).pathname}`);
    return fetch(url, init);
  };

  /** Runs the command in-process; resolves to its exit code and output. */
  async function cli(args: string[], clock?: () => Date) {
    requests = [];
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
    const code = await runCredentialProcess(args, io, {
      fetch: countingFetch,
      ...(clock ? { clock } : {}),
    });
    return { code, stdout, stderr };
  }

  let n = 0;
  const tokenFile = () => join(dir, `device-${++n}`, 'token');

  it('registers when the token file is absent, keeps it 0600 and prints Version 1 credentials', async () => {
    const file = tokenFile();
    const res = await cli(['--url', kv.url, '--token-file', file, '--profile', 'demo']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ Version: 1, AccountId: '123456789012' });
    expect(out.AccessKeyId).toMatch(/^ASIA/);
    expect(typeof out.SecretAccessKey).toBe('string');
    expect(typeof out.SessionToken).toBe('string');
    expect(Date.parse(String(out.Expiration))).toBeGreaterThan(Date.now());
    expect(requests).toEqual(['POST /v1/devices', 'POST /v1/credentials']);

    const token = readFileSync(file, 'utf8');
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/); // the bare JWT, no newline
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}.credentials.json`).mode & 0o777).toBe(0o600);
  });

  it('serves cached credentials until shortly before expiry, then fetches new ones', async () => {
    const file = tokenFile();
    const args = ['--url', kv.url, '--token-file', file, '--profile', 'demo'];
    const first = JSON.parse((await cli(args)).stdout) as {
      AccessKeyId: string;
      Expiration: string;
    };

    const again = await cli(args);
    expect(requests).toEqual([]);
    expect(JSON.parse(again.stdout).AccessKeyId).toBe(first.AccessKeyId);

    const nearExpiry = () => new Date(Date.parse(first.Expiration) - 4 * 60_000);
    const late = await cli(args, nearExpiry);
    expect(late.code).toBe(0);
    expect(requests).toEqual(['POST /v1/credentials']);

    const uncached = await cli([...args, '--no-cache']);
    expect(uncached.code).toBe(0);
    expect(requests).toEqual(['POST /v1/credentials']);
  });

  it('uses an existing token file without --profile', async () => {
    const file = tokenFile();
    await cli(['--url', kv.url, '--token-file', file, '--profile', 'demo', '--no-cache']);
    const res = await cli(['--url', kv.url, '--token-file', file, '--no-cache']);
    expect(res.code).toBe(0);
    expect(requests).toEqual(['POST /v1/credentials']);
  });

  it('solves a proof-of-work registration on its own', async () => {
    const res = await cli(['--url', kv.url, '--token-file', tokenFile(), '--profile', 'pow']);
    expect(res.code).toBe(0);
    expect(requests).toEqual(['POST /v1/devices', 'POST /v1/devices', 'POST /v1/credentials']);
  });

  it('explains what to do when registration needs a captcha it cannot show', async () => {
    const file = tokenFile();
    const res = await cli(['--url', kv.url, '--token-file', file, '--profile', 'captcha']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('captcha');
    expect(res.stderr).toContain('registration token');
    expect(res.stderr).toContain(file);
    expect(existsSync(file)).toBe(false);
  });

  it('reports a disabled device on stderr without printing its token', async () => {
    const file = tokenFile();
    const ok = await cli([
      '--url',
      kv.url,
      '--token-file',
      file,
      '--profile',
      'demo',
      '--no-cache',
    ]);
    expect(ok.code).toBe(0);
    const token = readFileSync(file, 'utf8');
    const [, payload] = token.split('.');
    const deviceId = String(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()).sub);
    await kv.services.store.setDeviceStatus(deviceId, 'disabled', new Date());
    const res = await cli(['--url', kv.url, '--token-file', file, '--no-cache']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('disabled');
    expect(res.stderr).not.toContain(token);
    expect(existsSync(file)).toBe(true);
  });

  it('says which URL could not be reached', async () => {
    const res = await cli([
      '--url',
      'http://127.0.0.1:9',
      '--token-file',
      tokenFile(),
      '--profile',
      'demo',
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('http://127.0.0.1:9');
  });

  it('needs --profile to register, and --url and --token-file always', async () => {
    await expect(cli(['--url', kv.url, '--token-file', tokenFile()])).rejects.toThrow(UsageError);
    await expect(cli(['--token-file', tokenFile(), '--profile', 'demo'])).rejects.toThrow(
      /--url is required/,
    );
    await expect(cli(['--url', kv.url, '--bogus'])).rejects.toThrow(UsageError);
  });

  it('gives the SDK’s fromProcess provider working credentials from a config profile', async () => {
    const file = tokenFile();
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const cliEntry = join(REPO_ROOT, 'src/cli/index.ts');
    const configFile = join(dir, 'aws-config');
    writeFileSync(
      configFile,
      [
        '[profile keyvend]',
        `credential_process = "${process.execPath}" --import "${tsx}" "${cliEntry}" credential-process --url ${kv.url} --token-file "${file}" --profile demo`,
        '',
      ].join('\n'),
    );
    const credentials = fromProcess({
      profile: 'keyvend',
      filepath: join(dir, 'no-credentials-file'),
      configFilepath: configFile,
    });
    const sts = new STSClient({ region: 'us-east-1', endpoint: kv.localAws.url, credentials });
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toMatch(/^arn:aws:sts::123456789012:federated-user\//);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // The same command line, run by hand, prints what the SDK read (from the cache now).
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, [
      '--import',
      tsx,
      cliEntry,
      'credential-process',
      '--url',
      kv.url,
      '--token-file',
      file,
    ]);
    const printed = JSON.parse(stdout) as { AccessKeyId: string };
    expect((await credentials()).accessKeyId).toBe(printed.AccessKeyId);
  });
});
