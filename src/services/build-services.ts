/**
 * Builds everything a running keyvend needs from a validated config, in dependency order:
 * store → key rings and tokens → templates (linted: a bad one stops start-up) → validators →
 * AWS clients (pointed at the in-process local AWS endpoint when enabled) → issuers and the
 * credential cache → the register and vend services. `close()` releases it all in reverse.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Config, ProfileConfig } from '../config/schema.js';
import { createStsClient } from '../issuers/aws-clients.js';
import { translateAwsError } from '../issuers/aws-errors.js';
import { CredentialCache } from '../issuers/credential-cache.js';
import type { Issuer } from '../issuers/issuer.js';
import { createIssuer } from '../issuers/registry.js';
import type { LocalAws } from '../local-aws/index.js';
import { loadProfilePolicies } from '../policy/profile-policies.js';
import type { PolicyTemplate } from '../policy/template.js';
import { SqliteStore } from '../stores/sqlite/sqlite-store.js';
import type { Store } from '../stores/store.js';
import { KeyRing } from '../tokens/key-ring.js';
import { RegistrationTokens } from '../tokens/registration-tokens.js';
import { closeValidators, createValidators } from '../validators/registry.js';
import type { Validator } from '../validators/validator.js';
import { createJwtChallengeSigner } from './jwt-challenge-signer.js';
import { createRegisterService, type RegisterService } from './register-device.js';
import { createVendService, type VendService } from './vend-credentials.js';

/** How often a running keyvend re-reads signing keys from the store. */
const KEY_RELOAD_INTERVAL_MS = 60_000;

export interface Services {
  config: Config;
  store: Store;
  keyRing: KeyRing;
  tokens: RegistrationTokens;
  templates: ReadonlyMap<string, PolicyTemplate>;
  validators: ReadonlyMap<string, Validator[]>;
  issuers: ReadonlyMap<string, Issuer>;
  cache: CredentialCache;
  register: RegisterService;
  vend: VendService;
  /** Signs keyvend's own ID tokens, when a profile uses the `web-identity` issuer. */
  oidcKeyRing: KeyRing | undefined;
  /** The in-process local AWS endpoint, when `aws.local.enabled`. */
  localAws: LocalAws | undefined;
  close(): Promise<void>;
}

export interface BuildOptions {
  logger: FastifyBaseLogger;
  clock?: () => Date;
  /** Use this store instead of opening the configured one (tests). */
  store?: Store;
  fetch?: typeof fetch;
  /** keyvend's public URL, the issuer of its ID tokens (known only once it listens). */
  issuerUrl: () => string;
}

export async function buildServices(config: Config, options: BuildOptions): Promise<Services> {
  const { logger } = options;
  const clock = options.clock ?? (() => new Date());
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) => logger.error({ err }, 'error while closing'));
    }
  };
  try {
    const { templates, warnings } = await loadProfilePolicies(config);
    for (const warning of warnings) logger.warn(`${config.file}: ${warning}`);

    const store = options.store ?? (await SqliteStore.open(config.store.path, { clock }));
    if (options.store === undefined) cleanups.push(() => store.close());

    const keyRing = await KeyRing.open(store, { use: 'registration', alg: 'ES256', clock });
    // Picks up keys rotated by another instance or by `keyvend keys rotate`.
    const stopReload = keyRing.startPeriodicReload(KEY_RELOAD_INTERVAL_MS);
    cleanups.push(async () => stopReload());
    const tokens = new RegistrationTokens(keyRing, {
      issuer: config.tokens.issuer,
      audience: config.tokens.audience,
      cacheSize: config.tokens.verifyCacheSize,
      clock,
    });
    const signer = createJwtChallengeSigner(keyRing, {
      issuer: config.tokens.issuer,
      audience: config.tokens.audience,
      clock,
    });

    const validators = new Map<string, Validator[]>();
    for (const [name, profile] of Object.entries(config.profiles)) {
      validators.set(
        name,
        createValidators(profile.validators, {
          store,
          signer,
          clock,
          ...(options.fetch ? { fetch: options.fetch } : {}),
        }),
      );
    }
    cleanups.push(() => closeValidators([...validators.values()].flat()));

    let localAws: LocalAws | undefined;
    let stsOverrides: Parameters<typeof createStsClient>[1];
    if (config.aws.local.enabled) {
      const { startLocalAws } = await import('../local-aws/index.js');
      localAws = await startLocalAws({
        host: config.aws.local.host,
        port: config.aws.local.port,
        accountId: config.aws.local.accountId,
      });
      cleanups.push(() => localAws!.close());
      // In AWS, a federation token can do at most what keyvend's own IAM user may; give the
      // local one the services the shipped templates grant, so vended credentials work there.
      const identity = localAws.control.bootstrapKeyvendIdentity({
        delegate: [
          {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: ['s3:*', 'dynamodb:*'], Resource: '*' }],
          },
        ],
      });
      stsOverrides = {
        endpoint: localAws.url,
        credentials: {
          accessKeyId: identity.accessKeyId,
          secretAccessKey: identity.secretAccessKey,
        },
      };
      logger.warn(
        { endpoint: localAws.url },
        "LOCAL AWS ENDPOINT IN USE: credentials are minted by keyvend's built-in development STS, not by AWS. Set aws.local.enabled=false for real AWS.",
      );
    }
    const sts = createStsClient(config.aws, stsOverrides);
    cleanups.push(async () => sts.destroy());

    const profiles = Object.entries(config.profiles);
    const oidcKeyRing = profiles.some(([, p]) => p.issuer.type === 'web-identity')
      ? await KeyRing.open(store, { use: 'oidc', alg: 'RS256', clock })
      : undefined;
    if (oidcKeyRing) {
      const stopOidcReload = oidcKeyRing.startPeriodicReload(KEY_RELOAD_INTERVAL_MS);
      cleanups.push(async () => stopOidcReload());
    }
    const issuers = new Map<string, Issuer>();
    for (const [name, profile] of profiles) {
      issuers.set(
        name,
        createIssuer(profile.issuer, {
          sts,
          config,
          logger,
          profileName: name,
          clock,
          resilience: {
            failureThreshold: config.aws.circuitBreaker.failureThreshold,
            openMs: config.aws.circuitBreaker.openSeconds * 1000,
          },
          ...(oidcKeyRing ? { oidc: { keyRing: oidcKeyRing, issuerUrl: options.issuerUrl } } : {}),
        }),
      );
    }
    const cache = new CredentialCache({ ...config.credentialCache, clock });

    // Role-based issuers live in the role's account (no AWS call, and web-identity needs no
    // AWS credentials at all); federation tokens in the account of keyvend's own identity.
    const callerAccount = memoize(async () => {
      if (localAws) return localAws.accountId;
      const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
      try {
        const identity = await sts.send(new GetCallerIdentityCommand({}));
        if (identity.Account === undefined)
          throw new Error('GetCallerIdentity returned no Account');
        return identity.Account;
      } catch (err) {
        throw translateAwsError(err, { operation: 'sts:GetCallerIdentity' });
      }
    });
    const accountId = async (profile: ProfileConfig): Promise<string> => {
      const roleArn = 'roleArn' in profile.issuer ? profile.issuer.roleArn : undefined;
      const fromArn =
        roleArn === undefined ? undefined : /^arn:aws[\w-]*:iam::(\d{12}):/.exec(roleArn)?.[1];
      return fromArn ?? callerAccount();
    };

    const register = createRegisterService({ config, store, tokens, validators, clock });
    const vend = createVendService({
      config,
      store,
      tokens,
      templates,
      issuers,
      cache,
      accountId,
      clock,
    });
    return {
      config,
      store,
      keyRing,
      tokens,
      templates,
      validators,
      issuers,
      cache,
      register,
      vend,
      oidcKeyRing,
      localAws,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** One shared promise; a failure is forgotten so the next call tries again. */
function memoize<T>(fn: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= fn().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  };
}
