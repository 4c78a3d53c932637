/**
 * `keyvend invites create|list` — invite codes for profiles that use the `invite` validator,
 * straight on the store. `create` prints each new code once (the store keeps only its hash);
 * `list` shows hashes, uses and expiry, never codes.
 *
 *     keyvend invites create --profile beta --uses 1 --expires 7d --count 20
 *     keyvend invites list --profile beta
 */
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { ValidatorConfig } from '../config/validator-schemas.js';
import {
  createInvites,
  listInvites,
  MAX_INVITE_COUNT,
  MAX_INVITE_SECONDS,
  MAX_INVITE_USES,
} from '../services/invites.js';
import type { InviteRecord } from '../stores/store.js';
import { parseArgs, parseDuration, requiredOption, stringOption } from './args.js';
import { type Command, UsageError } from './io.js';
import { openConfiguredStore } from './open-store.js';

const USAGE =
  'usage: keyvend invites create --profile P --uses N [--expires 7d] [--count K] [--json] [--config F]\n' +
  '       keyvend invites list [--profile P] [--json] [--config F]\n' +
  'durations: 90s, 30m, 12h, 7d, 2w (60 s to 10 years); without --expires a code never expires';

/** `--expires`: 60 s to 10 years. */
export function parseExpires(text: string): number {
  return parseDuration(text, 'expires', {
    min: 60,
    max: MAX_INVITE_SECONDS,
    range: 'from 60 s to 10 years',
  });
}

function parseCount(text: string | undefined, option: string, max: number, fallback?: number) {
  if (text === undefined && fallback !== undefined) return fallback;
  const value = Number(text);
  if (
    text === undefined ||
    !/^\d+$/.test(text) ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > max
  ) {
    throw new UsageError(`--${option} must be a whole number from 1 to ${max}`);
  }
  return value;
}

export const run: Command = async (args, io) => {
  const [verb, ...rest] = args;
  if (verb !== 'create' && verb !== 'list') {
    throw new UsageError(
      verb === undefined ? USAGE : `unknown sub-command ${JSON.stringify(verb)}\n${USAGE}`,
    );
  }
  const parsed = parseArgs(rest, {
    config: 'string',
    profile: 'string',
    uses: 'string',
    expires: 'string',
    count: 'string',
    json: 'boolean',
  });
  if (parsed.positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}\n${USAGE}`);
  }

  if (verb === 'create') {
    for (const o of ['profile', 'uses']) {
      if (stringOption(parsed, o) === undefined)
        throw new UsageError(`--${o} is required\n${USAGE}`);
    }
    const profile = requiredOption(parsed, 'profile');
    const uses = parseCount(stringOption(parsed, 'uses'), 'uses', MAX_INVITE_USES);
    const count = parseCount(stringOption(parsed, 'count'), 'count', MAX_INVITE_COUNT, 1);
    const expiresText = stringOption(parsed, 'expires');
    const expiresInSeconds = expiresText === undefined ? undefined : parseExpires(expiresText);
    const config = loadConfig({ file: stringOption(parsed, 'config'), env: io.env, cwd: io.cwd });
    checkProfile(config, profile);
    if (!usesInvites(config.profiles[profile]!.validators)) {
      io.stderr(
        `keyvend invites: warning: profile ${profile} has no invite validator; these codes do nothing until it does\n`,
      );
    }
    const store = await openConfiguredStore(config);
    try {
      const now = new Date();
      const codes = await createInvites({
        store,
        profile,
        uses,
        count,
        now,
        ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
      });
      const expiresAt =
        expiresInSeconds === undefined
          ? null
          : new Date(now.getTime() + expiresInSeconds * 1000).toISOString();
      if (parsed.options.json) {
        io.stdout(`${JSON.stringify({ profile, uses, expiresAt, codes })}\n`);
      } else {
        io.stdout(`${codes.join('\n')}\n`);
        io.stderr(
          `Created ${codes.length} invite code${codes.length === 1 ? '' : 's'} for profile ${profile}: ` +
            `${uses} use${uses === 1 ? '' : 's'} each, ${expiresAt ? `expiring ${expiresAt}` : 'never expiring'}. ` +
            'They are shown only now; keyvend keeps only their hashes.\n',
        );
      }
      return 0;
    } finally {
      await store.close();
    }
  }

  if (
    stringOption(parsed, 'uses') ??
    stringOption(parsed, 'expires') ??
    stringOption(parsed, 'count')
  ) {
    throw new UsageError(`list takes only --profile, --json and --config\n${USAGE}`);
  }
  const config = loadConfig({ file: stringOption(parsed, 'config'), env: io.env, cwd: io.cwd });
  const profile = stringOption(parsed, 'profile');
  if (profile !== undefined) checkProfile(config, profile);
  const store = await openConfiguredStore(config);
  try {
    const now = new Date();
    const invites = await listInvites(store, profile);
    if (parsed.options.json) {
      io.stdout(`${JSON.stringify({ invites: invites.map((i) => view(i, now)) })}\n`);
      return 0;
    }
    if (invites.length === 0) {
      io.stdout('no invites\n');
      return 0;
    }
    io.stdout(
      `${'HASH'.padEnd(14)}${'PROFILE'.padEnd(18)}${'USES LEFT'.padEnd(14)}${'STATUS'.padEnd(10)}EXPIRES\n`,
    );
    for (const i of invites) {
      const v = view(i, now);
      io.stdout(
        `${i.codeHash.slice(0, 12).padEnd(14)}${i.profile.padEnd(18)}${`${i.usesLeft}/${i.usesTotal}`.padEnd(14)}` +
          `${v.status.padEnd(10)}${v.expiresAt ?? 'never'}\n`,
      );
    }
    return 0;
  } finally {
    await store.close();
  }
};

function checkProfile(config: Config, profile: string): void {
  if (!Object.hasOwn(config.profiles, profile)) {
    const known = Object.keys(config.profiles).join(', ');
    throw new UsageError(
      `no profile ${JSON.stringify(profile)} in ${config.file} (profiles: ${known})`,
    );
  }
}

function usesInvites(validators: readonly ValidatorConfig[]): boolean {
  return validators.some(
    (v) =>
      v.type === 'invite' ||
      (v.type === 'anyOf' &&
        (v.validators as readonly ValidatorConfig[]).some((m) => m.type === 'invite')),
  );
}

function view(invite: InviteRecord, now: Date) {
  const expired = invite.expiresAt !== null && invite.expiresAt.getTime() <= now.getTime();
  return {
    codeHash: invite.codeHash,
    profile: invite.profile,
    usesTotal: invite.usesTotal,
    usesLeft: invite.usesLeft,
    status: expired ? 'expired' : invite.usesLeft <= 0 ? 'used-up' : 'active',
    expiresAt: invite.expiresAt?.toISOString() ?? null,
    createdAt: invite.createdAt.toISOString(),
  };
}
