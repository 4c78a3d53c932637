/**
 * `keyvend/client` against a real keyvend and the local AWS endpoint, through the real AWS SDK:
 * `fromKeyvend` as an STS client's credential provider, key-bound devices with real DPoP
 * checks, a real proof-of-work validator, a disabled device, and a token keyvend no longer
 * accepts.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKeyvend,
  fromKeyvend,
  type KeyvendClientError,
  type KeyvendOptions,
  memoryStorage,
} from '../../src/client/index.js';
import { DEMO_PROFILE, type Keyvend, startKeyvend } from '../support/harness.js';

describe('keyvend/client with a real keyvend', () => {
  let kv: Keyvend;
  let requests: string[];
  beforeAll(async () => {
    kv = await startKeyvend({
      config: {
        profiles: {
          demo: DEMO_PROFILE,
          bound: { ...DEMO_PROFILE, requireKeyBinding: true },
          pow: { ...DEMO_PROFILE, validators: [{ type: 'proof-of-work', difficulty: 8 }] },
        },
      },
    });
  });
  afterAll(() => kv.close());

  /** A client whose every request is recorded (method and path). */
  function client(overrides: Partial<KeyvendOptions> = {}) {
    requests = [];
    return createKeyvend({
      url: kv.url,
      profile: 'demo',
      storage: memoryStorage(),
      fetch: (url, init) => {
        requests.push(`${init.method} ${new URL(url).pathname}`);
        return fetch(url, init);
      },
      ...overrides,
    });
  }

  function sts(credentials: ReturnType<typeof fromKeyvend>) {
    return new STSClient({ region: 'us-east-1', endpoint: kv.localAws.url, credentials });
  }

  it('gives an STS client built with fromKeyvend the device’s own identity', async () => {
    const keyvend = client();
    const identity = await sts(fromKeyvend(keyvend)).send(new GetCallerIdentityCommand({}));
    const registration = await keyvend.registration();
    expect(registration?.deviceId).toBeDefined();
    expect(identity.Arn).toMatch(/^arn:aws:sts::123456789012:federated-user\//);
    expect(identity.Arn).toContain(registration?.deviceId);
    expect(identity.Account).toBe('123456789012');
    expect(requests).toEqual(['POST /v1/devices', 'POST /v1/credentials']);
  });

  it('lets the SDK reuse the credentials across calls without asking keyvend again', async () => {
    const keyvend = client();
    const client1 = sts(fromKeyvend(keyvend));
    await client1.send(new GetCallerIdentityCommand({}));
    await client1.send(new GetCallerIdentityCommand({}));
    await sts(fromKeyvend(keyvend)).send(new GetCallerIdentityCommand({}));
    expect(requests.filter((r) => r === 'POST /v1/credentials')).toHaveLength(1);
  });

  it('accepts options as well as a client', async () => {
    const identity = await sts(
      fromKeyvend({ url: kv.url, profile: 'demo', storage: memoryStorage() }),
    ).send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toMatch(/federated-user\//);
  });

  it('vends for a key-bound device: keyvend checks a fresh DPoP proof each time', async () => {
    const keyvend = client({ profile: 'bound', keyBound: true });
    const first = await keyvend.credentials();
    const second = await keyvend.credentials({ forceRefresh: true });
    expect((await keyvend.registration())?.keyBound).toBe(true);
    expect(first.deviceId).toBe(second.deviceId);
    const identity = await sts(fromKeyvend(keyvend)).send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toContain(first.deviceId);
  });

  it('answers a real proof-of-work challenge without the app noticing', async () => {
    let asked = 0;
    const keyvend = client({
      profile: 'pow',
      onChallenge: () => {
        asked++;
        return undefined;
      },
    });
    const creds = await keyvend.credentials();
    expect(asked).toBe(0);
    expect(creds.profile).toBe('pow');
    expect(requests).toEqual(['POST /v1/devices', 'POST /v1/devices', 'POST /v1/credentials']);
  });

  it('surfaces a disabled device as a typed KEYVEND_DEVICE_DISABLED error', async () => {
    const keyvend = client();
    const { deviceId } = await keyvend.credentials();
    await kv.services.store.setDeviceStatus(deviceId, 'disabled', new Date());
    const err = (await keyvend.credentials({ forceRefresh: true }).catch((e) => e)) as
      | KeyvendClientError
      | undefined;
    expect(err?.name).toBe('KeyvendClientError');
    expect(err).toMatchObject({ code: 'KEYVEND_DEVICE_DISABLED', status: 403 });
    expect(requests.filter((r) => r === 'POST /v1/devices')).toHaveLength(1);
  });

  it('registers a new device when keyvend refuses the stored token for good', async () => {
    const storage = memoryStorage();
    const keyvend = client({ storage });
    const old = await keyvend.register();
    // A token keyvend never signed, stored as if it were this device's.
    await storage.set('keyvend:demo:registration', { ...old, token: `${old.token}x` });
    const fresh = client({ storage });
    const creds = await fresh.credentials();
    expect(creds.deviceId).not.toBe(old.deviceId);
    expect(requests).toEqual(['POST /v1/credentials', 'POST /v1/devices', 'POST /v1/credentials']);
  });
});
