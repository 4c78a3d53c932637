/**
 * `keyvend/client` in a real browser: the library (with the AWS SDK's STS client) is bundled
 * by esbuild for the browser, loaded by a page on its own origin in headless Chromium, and run
 * against a real keyvend across origins (CORS): a key-bound device registers (answering a
 * proof-of-work), keeps its non-extractable key in IndexedDB, gets credentials, and calls the
 * local AWS endpoint with them; after a reload it is the same device.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PROFILE, type Keyvend, startKeyvend } from '../support/harness.js';
import { REPO_ROOT } from '../support/paths.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** What the page reports back to the test. */
interface PageResult {
  arn: string | undefined;
  deviceId: string;
  keyBound: boolean | undefined;
  privateKeyIsCryptoKey: boolean;
  privateKeyExtractable: boolean;
  exportRefused: string | null;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

/**
 * Forwards requests unchanged (Host included, so SigV4 still verifies) and adds the CORS
 * headers a browser needs: used only when the local AWS endpoint sends none itself.
 */
function corsProxy(target: string): Server {
  const { hostname, port } = new URL(target);
  return createServer((req, res) => {
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'x-amzn-requestid, date',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'POST, GET',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    const upstream = httpRequest(
      { hostname, port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, { ...up.headers, ...cors });
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
}

describe('keyvend/client in headless Chromium', () => {
  let page: Server;
  let proxy: Server | undefined;
  let kv: Keyvend;
  let browser: Browser;
  let origin: string;
  let awsUrl: string;
  let bundleBytes = 0;

  beforeAll(async () => {
    const bundled = await build({
      stdin: {
        contents: [
          "import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';",
          "import * as keyvend from '../../src/client/index.ts';",
          'globalThis.keyvendTest = { ...keyvend, STSClient, GetCallerIdentityCommand };',
        ].join('\n'),
        resolveDir: join(REPO_ROOT, 'test/client'),
        loader: 'ts',
      },
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const script = bundled.outputFiles[0]?.text ?? '';
    page = createServer((req, res) => {
      if (req.url === '/bundle.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(script);
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><title>keyvend test</title><script src="/bundle.js"></script>');
      }
    });
    origin = await listen(page);

    kv = await startKeyvend({
      config: {
        server: { host: '127.0.0.1', port: 0, logLevel: 'info', corsOrigins: [origin] },
        profiles: {
          web: { ...DEMO_PROFILE, validators: [{ type: 'proof-of-work', difficulty: 8 }] },
        },
      },
    });
    const preflight = await fetch(kv.localAws.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    if (preflight.headers.get('access-control-allow-origin')) {
      awsUrl = kv.localAws.url;
    } else {
      proxy = corsProxy(kv.localAws.url);
      awsUrl = await listen(proxy);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await kv?.close();
    proxy?.close();
    page?.close();
  });

  /**
   * The device flow, run inside the page (Playwright sends its source): a fresh client each
   * time, so all state comes from IndexedDB.
   */
  function deviceFlow([kvUrl, stsUrl]: readonly [string, string]): Promise<PageResult> {
    return (async () => {
      // biome-ignore lint/suspicious/noExplicitAny: the bundle's globals are untyped in the page
      const k = (globalThis as any).keyvendTest;
      const storage = k.indexedDbStorage();
      const client = k.createKeyvend({ url: kvUrl, profile: 'web', storage, keyBound: true });
      const creds = await client.credentials();
      const sts = new k.STSClient({
        region: 'us-east-1',
        endpoint: stsUrl,
        credentials: k.fromKeyvend(client),
      });
      const identity = await sts.send(new k.GetCallerIdentityCommand({}));
      const stored = await storage.get('keyvend:web:key');
      let exportRefused: string | null = null;
      try {
        await crypto.subtle.exportKey('pkcs8', stored.privateKey);
      } catch (err) {
        exportRefused = (err as Error).name;
      }
      return {
        arn: identity.Arn,
        deviceId: creds.deviceId,
        keyBound: (await client.registration())?.keyBound,
        privateKeyIsCryptoKey: stored.privateKey instanceof CryptoKey,
        privateKeyExtractable: stored.privateKey.extractable,
        exportRefused,
      };
    })();
  }

  it('registers, keeps its key in IndexedDB, gets credentials and calls AWS; same device after a reload', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    const pageErrors: string[] = [];
    tab.on('pageerror', (err) => pageErrors.push(err.message));
    await tab.goto(`${origin}/`);

    const first = await tab.evaluate(deviceFlow, [kv.url, awsUrl] as const);
    expect(pageErrors).toEqual([]);
    expect(first.keyBound).toBe(true);
    expect(first.arn).toMatch(/^arn:aws:sts::123456789012:federated-user\//);
    expect(first.arn).toContain(first.deviceId);
    expect(first.privateKeyIsCryptoKey).toBe(true);
    expect(first.privateKeyExtractable).toBe(false);
    expect(first.exportRefused).toBe('InvalidAccessError');

    await tab.reload();
    const second = await tab.evaluate(deviceFlow, [kv.url, awsUrl] as const);
    expect(second.deviceId).toBe(first.deviceId);
    expect(second.arn).toBe(first.arn);
    const devices = await kv.services.store.listDevices({ profile: 'web' });
    expect(devices.items.map((d) => d.id)).toEqual([first.deviceId]);
    await context.close();
  }, 60_000);

  it('bundles for the browser from src/client alone, with no Node built-in', async () => {
    const result = await build({
      entryPoints: [join(REPO_ROOT, 'src/client/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.every((file) => file.startsWith('src/client/'))).toBe(true);
    bundleBytes = result.outputFiles[0]?.contents.byteLength ?? 0;
    expect(bundleBytes).toBeGreaterThan(1000);
    expect(bundleBytes).toBeLessThan(40_000);
  });
});
