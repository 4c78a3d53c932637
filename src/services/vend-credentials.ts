/**
 * The vend flow, shared by `POST /v1/credentials`, the container-credentials endpoint and the
 * CLI: registration token → device (must be active, every time — no cache can hide a disabled
 * device) → proof of possession when the token is key-bound → policy rendered for this device →
 * the credential cache in front of the profile's issuer.
 */
import { findProfile } from '../config/profiles.js';
import type { Config, ProfileConfig } from '../config/schema.js';
import { KeyvendError } from '../errors.js';
import type { CredentialCache } from '../issuers/credential-cache.js';
import { computeTtl, credentialCacheKey } from '../issuers/credential-cache.js';
import type {
  IssuedCredentials,
  IssueRequest,
  Issuer,
  WebIdentityGrant,
} from '../issuers/issuer.js';
import { LruCache } from '../lru-cache.js';
import { principalNameFor } from '../policy/principal-name.js';
import { PolicyRenderError, renderPolicy } from '../policy/render.js';
import type { PolicyTemplate } from '../policy/template.js';
import type { DeviceRecord, Store } from '../stores/store.js';
import { verifyDpopProof } from '../tokens/dpop.js';
import type { RegistrationClaims, RegistrationTokens } from '../tokens/registration-tokens.js';

export interface VendInput {
  /** The `Authorization` header: `Bearer <token>`, `DPoP <token>`, or the bare token. */
  authorization: string | undefined;
  /** The `DPoP` header, for key-bound devices. */
  dpop: string | undefined;
  method: string;
  /**
   * The full URL the client called, as it sees it (for the DPoP `htu` check); callers that
   * already know the token is not key-bound may leave it out.
   */
  url?: string | undefined;
  clientIp: string;
  ttlSeconds?: number | undefined;
}

export interface VendResult {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  region: string;
  accountId?: string;
  principalArn?: string;
  deviceId: string;
  profile: string;
}

export interface GrantResult extends WebIdentityGrant {
  region: string;
  deviceId: string;
  profile: string;
}

export interface VendService {
  /** Checks the token alone (cached signature check + device status); used by rate limiting. */
  authenticate(authorization: string | undefined): Promise<AuthenticatedDevice>;
  /** Credentials for the device. Refused for profiles whose issuer runs in client mode. */
  vend(input: VendInput, authenticated?: AuthenticatedDevice): Promise<VendResult>;
  /** Client-mode web-identity profiles: the token the device trades with STS itself. */
  grant(input: VendInput, authenticated?: AuthenticatedDevice): Promise<GrantResult>;
}

export interface AuthenticatedDevice {
  token: string;
  claims: RegistrationClaims;
  device: DeviceRecord;
  profile: ProfileConfig;
}

export interface VendDeps {
  config: Config;
  store: Store;
  tokens: RegistrationTokens;
  templates: ReadonlyMap<string, PolicyTemplate>;
  issuers: ReadonlyMap<string, Issuer>;
  cache: CredentialCache;
  /** The AWS account a profile's credentials live in (`${keyvend:account}`). */
  accountId: (profile: ProfileConfig) => Promise<string>;
  clock?: () => Date;
}

/** What a vend for one device at one TTL always renders to. */
interface IssuePlan {
  profile: ProfileConfig;
  principalName: string;
  policy: string;
  cacheKey: string;
}

/** How often (at most) a device's `lastSeenAt` is written, so vending stays a read. */
const TOUCH_INTERVAL_MS = 60_000;

export function createVendService(deps: VendDeps): VendService {
  const clock = deps.clock ?? (() => new Date());
  const region = deps.config.aws.region ?? 'us-east-1';
  const lastTouched = new LruCache<string, number>(deps.config.credentialCache.maxEntries || 1000);
  const plans = new LruCache<string, IssuePlan>(deps.config.credentialCache.maxEntries || 1000);
  // One frozen answer per cached credential set, so repeat vends hand back the same object
  // (and the HTTP layer can keep its serialised form).
  const answers = new WeakMap<IssuedCredentials, VendResult>();

  function makePlan(
    device: DeviceRecord,
    profile: ProfileConfig,
    template: PolicyTemplate,
    accountId: string,
  ): Omit<IssuePlan, 'cacheKey'> {
    // A device linked to a user acts as that user, so per-user data follows the person.
    const principalName = principalNameFor(profile.issuer.type, device.userId ?? device.id);
    let policy: string;
    try {
      policy = renderPolicy(template, {
        principal: principalName,
        device: device.id,
        profile: device.profile,
        account: accountId,
        region,
        user: device.userId,
        params: profile.params,
      });
    } catch (err) {
      if (err instanceof PolicyRenderError) {
        throw new KeyvendError('KEYVEND_INTERNAL', undefined, { cause: err });
      }
      throw err;
    }
    return { profile, principalName, policy };
  }

  async function authenticate(authorization: string | undefined): Promise<AuthenticatedDevice> {
    const token = bearerToken(authorization);
    const claims = await deps.tokens.verify(token);
    const device = await deps.store.getDevice(claims.deviceId);
    if (device === null) throw new KeyvendError('KEYVEND_DEVICE_NOT_FOUND');
    if (device.status !== 'active') {
      // Whatever it held before is not handed out again should it be enabled later.
      deps.cache.invalidateDevice(device.id);
      throw new KeyvendError('KEYVEND_DEVICE_DISABLED');
    }
    if (device.profile !== claims.profile) throw new KeyvendError('KEYVEND_PROFILE_MISMATCH');
    const profile = findProfile(deps.config, device.profile);
    if (profile === undefined) {
      throw new KeyvendError(
        'KEYVEND_UNKNOWN_PROFILE',
        `Profile ${device.profile} no longer exists.`,
      );
    }
    return { token, claims, device, profile };
  }

  /** Everything both delivery modes share: proof of possession, TTL, principal, policy. */
  async function prepare(
    input: VendInput,
    known: AuthenticatedDevice | undefined,
  ): Promise<{
    request: IssueRequest;
    cacheKey: string;
    issuer: Issuer;
    accountId: string;
    now: Date;
  }> {
    const { token, claims, device, profile } = known ?? (await authenticate(input.authorization));
    const now = clock();
    if (claims.jkt !== undefined) {
      if (input.url === undefined) {
        throw new KeyvendError('KEYVEND_INTERNAL', undefined, {
          cause: new Error('a key-bound vend needs the request URL'),
        });
      }
      await verifyDpopProof(input.dpop, {
        method: input.method,
        url: input.url,
        expectedJkt: claims.jkt,
        accessToken: token,
        now,
        store: deps.store,
      });
    } else if (profile.requireKeyBinding) {
      throw new KeyvendError('KEYVEND_PROOF_REQUIRED', 'This profile requires key-bound devices.');
    }

    const issuer = deps.issuers.get(device.profile);
    const template = deps.templates.get(profile.policy);
    if (issuer === undefined || template === undefined) {
      throw new KeyvendError('KEYVEND_INTERNAL', undefined, {
        cause: new Error(`profile ${device.profile} has no issuer or template`),
      });
    }
    const durationSeconds = computeTtl(input.ttlSeconds, profile, issuer.maxDurationSeconds);
    const accountId = await deps.accountId(profile);
    // The rendered policy and the cache key depend only on the device, its user and the TTL:
    // compute them once per device rather than on every vend.
    const planKey = `${device.id}\0${device.userId ?? ''}\0${durationSeconds}`;
    const cached = plans.get(planKey);
    const plan: Omit<IssuePlan, 'cacheKey'> & { cacheKey?: string } =
      cached?.profile === profile ? cached : makePlan(device, profile, template, accountId);
    const request: IssueRequest = {
      profileName: device.profile,
      profile,
      device,
      principalName: plan.principalName,
      policy: plan.policy,
      templateName: template.name,
      policyArns: [...profile.managedPolicyArns],
      durationSeconds,
      tags: [],
    };
    const cacheKey = plan.cacheKey ?? credentialCacheKey(request);
    if (plan !== cached) plans.set(planKey, { ...plan, cacheKey });
    return { request, cacheKey, issuer, accountId, now };
  }

  async function vend(input: VendInput, known?: AuthenticatedDevice): Promise<VendResult> {
    const { request, cacheKey, issuer, accountId, now } = await prepare(input, known);
    if (issuer.mode === 'client') {
      throw new KeyvendError('KEYVEND_CREDENTIALS_NOT_ISSUED');
    }
    const { device } = request;
    const credentials = await deps.cache.get(cacheKey, () => issuer.issue(request));
    touch(device.id, now);
    const previous = answers.get(credentials);
    if (previous?.deviceId === device.id && previous.profile === device.profile) return previous;
    const answer: VendResult = Object.freeze({
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      expiration: credentials.expiration,
      region,
      accountId: credentials.accountId ?? accountId,
      ...(credentials.principalArn === undefined ? {} : { principalArn: credentials.principalArn }),
      deviceId: device.id,
      profile: device.profile,
    });
    answers.set(credentials, answer);
    return answer;
  }

  async function grant(input: VendInput, known?: AuthenticatedDevice): Promise<GrantResult> {
    const { request, issuer, now } = await prepare(input, known);
    if (issuer.mode !== 'client' || issuer.grant === undefined) {
      throw new KeyvendError('KEYVEND_INTERNAL', undefined, {
        cause: new Error(`profile ${request.profileName} does not grant web-identity tokens`),
      });
    }
    // A grant is a fresh, short-lived ID token; it is not cached.
    const result = await issuer.grant(request);
    touch(request.device.id, now);
    return { ...result, region, deviceId: request.device.id, profile: request.profileName };
  }

  function touch(deviceId: string, now: Date): void {
    const last = lastTouched.get(deviceId);
    if (last !== undefined && now.getTime() - last < TOUCH_INTERVAL_MS) return;
    lastTouched.set(deviceId, now.getTime());
    // Last-seen is advisory: a failed write must not fail the vend.
    deps.store.touchDevice(deviceId, now).catch(() => lastTouched.delete(deviceId));
  }

  return { authenticate, vend, grant };
}

/** Accepts `Bearer <t>`, `DPoP <t>` (RFC 9449's scheme for bound tokens) or a bare token. */
export function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') {
    throw new KeyvendError('KEYVEND_TOKEN_MISSING');
  }
  const value = authorization.trim();
  const space = value.indexOf(' ');
  if (space === -1) return value;
  const scheme = value.slice(0, space).toLowerCase();
  const token = value.slice(space + 1).trim();
  if ((scheme !== 'bearer' && scheme !== 'dpop') || token === '' || token.includes(' ')) {
    throw new KeyvendError(
      'KEYVEND_TOKEN_INVALID',
      'Authorization must be "Bearer <registration token>".',
    );
  }
  return token;
}
