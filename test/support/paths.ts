/** Paths of the repository, for tests that read shipped files. */
import { resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
