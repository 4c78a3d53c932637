/**
 * `keyvend/client` as users get it: the client is compiled (without Node's types, so any Node
 * API would fail the build), packed with `npm pack` from the real package.json, installed from
 * the tarball into a scratch project outside the repository, and imported from plain ESM and
 * from TypeScript (`tsc` with NodeNext resolution and full library checks).
 *
 * The install runs `npm install --offline` (no network on build machines); when the npm cache
 * cannot satisfy keyvend's server dependencies offline, the tarball is unpacked into
 * `node_modules/keyvend` instead, which is all `keyvend/client` needs: it has no runtime
 * dependency.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';

const exec = promisify(execFile);
const TSC = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

describe('the packed keyvend/client', () => {
  let work: string;
  let project: string;
  let packedFiles: string[];
  let installedWith: 'npm' | 'unpacked';

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'keyvend-pack-'));
    const stage = join(work, 'stage');
    mkdirSync(stage);
    writeFileSync(
      join(stage, 'tsconfig.json'),
      JSON.stringify({
        extends: join(REPO_ROOT, 'tsconfig.build.json'),
        compilerOptions: {
          rootDir: join(REPO_ROOT, 'src'),
          outDir: join(stage, 'dist'),
          sourceMap: false,
          types: [],
        },
        include: [],
        files: [join(REPO_ROOT, 'src/client/index.ts')],
      }),
    );
    await exec(process.execPath, [TSC, '-p', join(stage, 'tsconfig.json')]);
    for (const file of ['package.json', 'LICENSE', 'README.md']) {
      if (existsSync(join(REPO_ROOT, file))) copyFileSync(join(REPO_ROOT, file), join(stage, file));
    }
    const packed = await exec('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: stage,
    });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    if (info === undefined) throw new Error('npm pack printed nothing');
    packedFiles = info.files.map((f) => f.path);
    const tarball = join(work, info.filename);

    project = join(work, 'app');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }),
    );
    try {
      await exec(
        'npm',
        ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball],
        { cwd: project, timeout: 120_000 },
      );
      installedWith = 'npm';
    } catch (err) {
      if (!String((err as { stderr?: string }).stderr).includes('ENOTCACHED')) throw err;
      const target = join(project, 'node_modules', 'keyvend');
      mkdirSync(target, { recursive: true });
      await exec('tar', ['-xzf', tarball, '--strip-components=1', '-C', target]);
      installedWith = 'unpacked';
    }
  }, 180_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs the compiled client with its type declarations', () => {
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'package.json',
        'dist/client/index.js',
        'dist/client/index.d.ts',
        'dist/client/keyvend-client.js',
        'dist/errors.d.ts',
      ]),
    );
    expect(packedFiles.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);
    expect(existsSync(join(project, 'node_modules/keyvend/dist/client/index.js'))).toBe(true);
    expect(['npm', 'unpacked']).toContain(installedWith);
  });

  it('imports from plain ESM and works', async () => {
    writeFileSync(
      join(project, 'check.mjs'),
      [
        "import { createKeyvend, memoryStorage, isKeyvendClientError } from 'keyvend/client';",
        "const kv = createKeyvend({ url: 'http://127.0.0.1:9', profile: 'p', storage: memoryStorage(), retries: 0 });",
        'const err = await kv.credentials().catch((e) => e);',
        'console.log(JSON.stringify({ guard: isKeyvendClientError(err), code: err.code }));',
      ].join('\n'),
    );
    const { stdout } = await exec(process.execPath, ['check.mjs'], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({ guard: true, code: 'KEYVEND_CLIENT_NETWORK' });
  });

  it('keeps internal modules private behind the exports map', async () => {
    writeFileSync(
      join(project, 'deep.mjs'),
      "await import('keyvend/dist/client/http-api.js').catch((e) => console.log(e.code));",
    );
    const { stdout } = await exec(process.execPath, ['deep.mjs'], { cwd: project });
    expect(stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('typechecks a TypeScript file importing it (NodeNext, strict, declarations checked)', async () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023', 'DOM'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          skipDefaultLibCheck: true,
          types: [],
        },
        files: ['app.ts'],
      }),
    );
    writeFileSync(
      join(project, 'app.ts'),
      [
        'import {',
        '  type AwsCredentialIdentityProvider,',
        '  createKeyvend,',
        '  fromKeyvend,',
        '  indexedDbStorage,',
        '  KeyvendClientError,',
        '  type KeyvendCredentials,',
        '  memoryStorage,',
        "} from 'keyvend/client';",
        "const kv = createKeyvend({ url: 'https://kv.example', profile: 'p', storage: memoryStorage() });",
        'const provider: AwsCredentialIdentityProvider = fromKeyvend(kv);',
        'const creds: Promise<KeyvendCredentials> = kv.credentials();',
        'const expires: Promise<Date | undefined> = provider().then((c) => c.expiration);',
        "const code: string = new KeyvendClientError('KEYVEND_DEVICE_DISABLED', 'x').code;",
        '// @ts-expect-error profile is required',
        "createKeyvend({ url: 'https://kv.example', storage: indexedDbStorage() });",
        'export { creds, expires, code };',
      ].join('\n'),
    );
    const result = await exec(process.execPath, [TSC, '-p', 'tsconfig.json'], {
      cwd: project,
    }).catch((err: { stdout: string }) => ({ stdout: err.stdout, failed: true }));
    expect(result.stdout).toBe('');
    expect('failed' in result).toBe(false);
  });
});
