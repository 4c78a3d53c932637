/**
 * The registration flow, shared by `POST /v1/devices` and the CLI: the profile's validators
 * run (all must pass; every open challenge is returned at once), the device is created — or,
 * when a validator vouches for a stable external identity, the existing device of that
 * identity is reused so the same person keeps the same principal — and a registration token
 * is signed, bound to the device's public key when one was given.
 */
import type { JWK } from 'jose';
import { findProfile } from '../config/profiles.js';
import type { Config } from '../config/schema.js';
import { KeyvendError } from '../errors.js';
import { newDeviceId } from '../stores/ids.js';
import { type DeviceRecord, DuplicateError, type Store } from '../stores/store.js';
import { parsePublicKey } from '../tokens/dpop.js';
import type { RegistrationTokens } from '../tokens/registration-tokens.js';
import { runValidators } from '../validators/compose.js';
import type { Validator } from '../validators/validator.js';

export interface RegisterInput {
  /** The parsed body, already checked to be an object with a string `profile`. */
  body: Readonly<Record<string, unknown>> & {
    profile: string;
    answers?: unknown;
    publicKey?: unknown;
  };
  rawBody: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  clientIp: string;
}

export interface RegisterResult {
  deviceId: string;
  profile: string;
  token: string;
  tokenExpiresAt: Date;
  keyBound: boolean;
  /** False when an existing device was found for the same external identity. */
  created: boolean;
}

export interface RegisterService {
  register(input: RegisterInput): Promise<RegisterResult>;
}

export interface RegisterDeps {
  config: Config;
  store: Store;
  tokens: RegistrationTokens;
  validators: ReadonlyMap<string, Validator[]>;
  clock?: () => Date;
}

export function createRegisterService(deps: RegisterDeps): RegisterService {
  const clock = deps.clock ?? (() => new Date());

  async function register(input: RegisterInput): Promise<RegisterResult> {
    const profileName = input.body.profile;
    const profile = findProfile(deps.config, profileName);
    const validators = deps.validators.get(profileName);
    if (profile === undefined || validators === undefined) {
      throw new KeyvendError(
        'KEYVEND_UNKNOWN_PROFILE',
        `No such profile: ${safeName(profileName)}.`,
      );
    }
    let key: { jwk: JWK; jkt: string } | undefined;
    if (input.body.publicKey !== undefined) key = await parsePublicKey(input.body.publicKey);
    else if (profile.requireKeyBinding) throw new KeyvendError('KEYVEND_PUBLIC_KEY_REQUIRED');

    const now = clock();
    const answers =
      input.body.answers !== null && typeof input.body.answers === 'object'
        ? (input.body.answers as Record<string, unknown>)
        : {};
    const result = await runValidators(validators, (v) => ({
      profile: profileName,
      answer: Object.hasOwn(answers, v.id) ? answers[v.id] : undefined,
      body: input.body,
      rawBody: input.rawBody,
      headers: input.headers,
      clientIp: input.clientIp,
      now,
      store: deps.store,
    }));
    if (result.outcome === 'challenge') {
      throw new KeyvendError('KEYVEND_CHALLENGE_REQUIRED', undefined, {
        details: { challenges: result.challenges },
      });
    }
    if (result.outcome === 'deny') throw result.error;

    const { device, created } = await findOrCreateDevice(profileName, result, key, now);
    if (device.status !== 'active') throw new KeyvendError('KEYVEND_DEVICE_DISABLED');
    const token = await deps.tokens.issue({
      deviceId: device.id,
      profile: profileName,
      ...(key === undefined ? {} : { jkt: key.jkt }),
      ttlSeconds: profile.tokenTtl,
    });
    return {
      deviceId: device.id,
      profile: profileName,
      token,
      tokenExpiresAt: new Date(now.getTime() + profile.tokenTtl * 1000),
      keyBound: key !== undefined,
      created,
    };
  }

  async function findOrCreateDevice(
    profile: string,
    facts: { externalId?: string; attributes?: Record<string, string> },
    key: { jwk: JWK; jkt: string } | undefined,
    now: Date,
  ): Promise<{ device: DeviceRecord; created: boolean }> {
    const externalId = facts.externalId;
    if (externalId !== undefined) {
      const existing = await deps.store.findDeviceByExternalId(profile, externalId);
      if (existing !== null) return { device: existing, created: false };
    }
    try {
      const device = await deps.store.createDevice({
        id: newDeviceId(),
        profile,
        publicKey: key?.jwk ?? null,
        keyThumbprint: key?.jkt ?? null,
        externalId: externalId ?? null,
        attributes: facts.attributes ?? {},
        createdAt: now,
      });
      return { device, created: true };
    } catch (err) {
      // Two registrations of one identity raced: the other one created the device.
      if (err instanceof DuplicateError && err.field === 'externalId' && externalId !== undefined) {
        const existing = await deps.store.findDeviceByExternalId(profile, externalId);
        if (existing !== null) return { device: existing, created: false };
      }
      throw err;
    }
  }

  return { register };
}

/** Profile names come from the client: echo them only when they look like a profile name. */
function safeName(name: string): string {
  return /^[a-z][a-z0-9-]{0,31}$/.test(name) ? name : '(invalid name)';
}
