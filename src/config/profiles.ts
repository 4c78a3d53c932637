/**
 * Profile lookup by a name that may come from a client. `profiles` is a plain object, so a
 * name like `constructor` or `__proto__` must not reach its prototype.
 */
import type { Config, ProfileConfig } from './schema.js';

export function findProfile(config: Config, name: string): ProfileConfig | undefined {
  return Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined;
}
