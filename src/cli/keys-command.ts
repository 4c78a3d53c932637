/**
 * `keyvend keys list|rotate|prune [--use registration|oidc]` — signing keys of registration
 * tokens, or of keyvend's ID tokens (web-identity). Rotation makes a new key the signer;
 * tokens signed by the previous key keep verifying (it stays in the JWKS) until it is pruned
 * with `keyvend keys prune --older-than 400d`. A running keyvend picks the new key up within a
 * minute.
 */
import { loadConfig } from '../config/load.js';
import { KeyRing } from '../tokens/key-ring.js';
import { parseArgs, parseDuration, requiredOption, stringOption } from './args.js';
import { type Command, UsageError } from './io.js';
import { openConfiguredStore } from './open-store.js';

const USAGE =
  'usage: keyvend keys list | rotate | prune --older-than DURATION (e.g. 400d)\n' +
  '       [--use registration|oidc] [--config F]';

/** Which key ring: registration tokens (ES256), or keyvend's OpenID provider (RS256). */
const RINGS = {
  registration: { use: 'registration', alg: 'ES256' },
  oidc: { use: 'oidc', alg: 'RS256' },
} as const;

export const run: Command = async (args, io) => {
  const [verb, ...rest] = args;
  const parsed = parseArgs(rest, { config: 'string', 'older-than': 'string', use: 'string' });
  if (verb !== 'list' && verb !== 'rotate' && verb !== 'prune') throw new UsageError(USAGE);
  const useName = stringOption(parsed, 'use') ?? 'registration';
  if (useName !== 'registration' && useName !== 'oidc') {
    throw new UsageError('--use must be registration or oidc');
  }
  const ring = RINGS[useName];
  const config = loadConfig({ file: stringOption(parsed, 'config'), env: io.env, cwd: io.cwd });
  const store = await openConfiguredStore(config);
  try {
    if (verb === 'rotate') {
      const keyRing = await KeyRing.open(store, ring);
      const { kid } = await keyRing.rotate();
      io.stdout(`new signing key ${kid}; earlier keys keep verifying until pruned\n`);
    } else if (verb === 'prune') {
      const seconds = parseDuration(requiredOption(parsed, 'older-than'), 'older-than', {
        min: 1,
        max: 100 * 365 * 86_400,
        range: 'up to 100 years',
      });
      const before = new Date(Date.now() - seconds * 1000);
      const n = await store.deleteRetiredSigningKeys(ring.use, before);
      io.stdout(`deleted ${n} key(s) retired before ${before.toISOString()}\n`);
    } else {
      for (const key of await store.listSigningKeys(ring.use)) {
        io.stdout(
          `${key.kid}  ${key.alg}  created ${key.createdAt.toISOString()}  ${key.retiredAt ? `retired ${key.retiredAt.toISOString()}` : 'current'}\n`,
        );
      }
    }
    return 0;
  } finally {
    await store.close();
  }
};
