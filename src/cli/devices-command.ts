/**
 * `keyvend devices list|show|disable|enable` — device administration straight on the store.
 * Disabling takes effect on the device's next request: every vend checks the store.
 */
import { loadConfig } from '../config/load.js';
import type { DeviceRecord, DeviceStatus } from '../stores/store.js';
import { parseArgs, stringOption } from './args.js';
import { type Command, UsageError } from './io.js';
import { openConfiguredStore } from './open-store.js';

const USAGE =
  'usage: keyvend devices list [--profile P] [--status active|disabled] [--limit N] [--json]\n' +
  '       keyvend devices show ID | disable ID | enable ID   [--config F]';

export const run: Command = async (args, io) => {
  const [verb, ...rest] = args;
  const parsed = parseArgs(rest, {
    config: 'string',
    profile: 'string',
    status: 'string',
    limit: 'string',
    cursor: 'string',
    json: 'boolean',
  });
  const config = loadConfig({ file: stringOption(parsed, 'config'), env: io.env, cwd: io.cwd });
  const store = await openConfiguredStore(config);
  try {
    switch (verb) {
      case 'list': {
        const status = stringOption(parsed, 'status');
        if (status !== undefined && status !== 'active' && status !== 'disabled') {
          throw new UsageError('--status must be active or disabled');
        }
        const limitText = stringOption(parsed, 'limit') ?? '100';
        const limit = Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
          throw new UsageError('--limit must be a whole number from 1 to 1000');
        }
        const profile = stringOption(parsed, 'profile');
        const cursor = stringOption(parsed, 'cursor');
        const page = await store.listDevices({
          limit,
          ...(profile === undefined ? {} : { profile }),
          ...(status === undefined ? {} : { status: status as DeviceStatus }),
          ...(cursor === undefined ? {} : { cursor }),
        });
        if (parsed.options.json) {
          io.stdout(
            `${JSON.stringify({ devices: page.items.map(view), nextCursor: page.nextCursor })}\n`,
          );
        } else {
          for (const d of page.items) {
            io.stdout(
              `${d.id}  ${d.profile.padEnd(16)} ${d.status.padEnd(8)} created ${d.createdAt.toISOString()}  last seen ${d.lastSeenAt?.toISOString() ?? '-'}\n`,
            );
          }
          if (page.nextCursor) io.stdout(`(more: --cursor ${page.nextCursor})\n`);
        }
        return 0;
      }
      case 'show':
      case 'disable':
      case 'enable': {
        const id = parsed.positionals[0];
        if (id === undefined) throw new UsageError(`${verb} needs a device id\n${USAGE}`);
        const device =
          verb === 'show'
            ? await store.getDevice(id)
            : await store.setDeviceStatus(
                id,
                verb === 'disable' ? 'disabled' : 'active',
                new Date(),
              );
        if (device === null) {
          io.stderr(`keyvend devices ${verb}: no device ${JSON.stringify(id)}\n`);
          return 1;
        }
        io.stdout(`${JSON.stringify(view(device), null, 2)}\n`);
        return 0;
      }
      default:
        throw new UsageError(USAGE);
    }
  } finally {
    await store.close();
  }
};

function view(d: DeviceRecord): Record<string, unknown> {
  return {
    id: d.id,
    profile: d.profile,
    status: d.status,
    keyBound: d.keyThumbprint !== null,
    externalId: d.externalId,
    userId: d.userId,
    createdAt: d.createdAt.toISOString(),
    lastSeenAt: d.lastSeenAt?.toISOString() ?? null,
    disabledAt: d.disabledAt?.toISOString() ?? null,
  };
}
