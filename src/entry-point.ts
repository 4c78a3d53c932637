/**
 * Whether a module is the process's entry point (run as `node file.js`, or through the npm
 * bin link, which is why the path is resolved first).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function isEntryPoint(moduleUrl: string): boolean {
  try {
    return (
      process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(moduleUrl)
    );
  } catch {
    return false;
  }
}
