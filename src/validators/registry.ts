/**
 * Builds a profile's validators from its config: the one table mapping each validator `type`
 * to its implementation. Run `createValidators` once per profile at start-up (after the
 * loader checked the config with `checkValidatorConfig`), pass the result to `runValidators`
 * on each registration, and `closeValidators` on shutdown.
 */
import type {
  AppSecretValidatorConfig,
  CaptchaValidatorConfig,
  LeafValidatorConfig,
  ValidatorConfig,
} from '../config/validator-schemas.js';
import type { Store } from '../stores/store.js';
import { AnyOfValidator, closeAll } from './any-of.js';
import { AppSecretValidator } from './app-secret.js';
import { CaptchaValidator } from './captcha.js';
import type { ChallengeSigner } from './challenge-signer.js';
import { InviteValidator } from './invite.js';
import { NetworkValidator } from './network.js';
import { NoneValidator } from './none.js';
import { OidcValidator } from './oidc.js';
import { ProofOfWorkValidator } from './proof-of-work.js';
import type { Validator } from './validator.js';

/** What validators need from the rest of keyvend. */
export interface ValidatorDeps {
  store: Store;
  /** Signs the challenges keyvend issues itself (proof-of-work puzzles). */
  signer: ChallengeSigner;
  /** HTTP client for captcha providers and OIDC discovery/JWKS; defaults to global fetch. */
  fetch?: typeof fetch;
  /** Wall clock for caches and cool-downs; defaults to `() => new Date()`. */
  clock?: () => Date;
}

/**
 * One validator per config entry, in config order.
 *
 * @example
 * ```ts
 * const validators = createValidators(profile.validators, { store, signer });
 * const result = await runValidators(validators, (v) => contextFor(v));
 * ```
 */
export function createValidators(
  configs: readonly ValidatorConfig[],
  deps: ValidatorDeps,
): Validator[] {
  return configs.map((config) => createValidator(config, deps));
}

/** Releases what validators hold (timers, sockets). Safe to call more than once. */
export async function closeValidators(validators: readonly Validator[]): Promise<void> {
  await closeAll(validators);
}

function createValidator(config: ValidatorConfig, deps: ValidatorDeps): Validator {
  if (config.type === 'anyOf') {
    const members: readonly LeafValidatorConfig[] = config.validators;
    return new AnyOfValidator(
      config.id ?? 'anyOf',
      members.map((m) => createLeaf(m, deps)),
    );
  }
  return createLeaf(config, deps);
}

function createLeaf(config: LeafValidatorConfig, deps: ValidatorDeps): Validator {
  switch (config.type) {
    case 'none':
      return new NoneValidator(config.id);
    case 'captcha':
      return new CaptchaValidator(config as CaptchaValidatorConfig, fetchOption(deps));
    case 'proof-of-work':
      return new ProofOfWorkValidator(config, { signer: deps.signer });
    case 'oidc':
      return new OidcValidator(config, {
        ...fetchOption(deps),
        ...(deps.clock ? { clock: deps.clock } : {}),
      });
    case 'invite':
      return new InviteValidator(config);
    case 'network':
      return new NetworkValidator(config);
    case 'app-secret':
      return new AppSecretValidator(config as AppSecretValidatorConfig);
    default: {
      const unknown: never = config;
      throw new Error(
        `unknown validator type ${JSON.stringify((unknown as { type: string }).type)}`,
      );
    }
  }
}

function fetchOption(deps: ValidatorDeps): { fetch?: typeof fetch } {
  return deps.fetch ? { fetch: deps.fetch } : {};
}
