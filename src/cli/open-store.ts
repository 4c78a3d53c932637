/** Opens the store a config names, for CLI commands that work on it directly. */
import type { Config } from '../config/schema.js';
import { SqliteStore } from '../stores/sqlite/sqlite-store.js';
import type { Store } from '../stores/store.js';

export async function openConfiguredStore(config: Config): Promise<Store> {
  return SqliteStore.open(config.store.path);
}
