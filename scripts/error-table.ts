/**
 * Writes the README's error table from `src/errors.ts` (`npm run docs:errors`). A test fails
 * when the README and the code disagree, so a new code cannot ship undocumented.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERRORS } from '../src/errors.js';

export const START = '<!-- errors:start -->';
export const END = '<!-- errors:end -->';

export function errorTable(): string {
  const rows = Object.entries(ERRORS).map(
    ([code, { status, message }]) =>
      `| \`${code}\` | ${status} | ${message.replace(/\|/g, '\\|')} |`,
  );
  return ['| Code | HTTP | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function withErrorTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1) throw new Error('README.md has no error-table markers');
  return `${readme.slice(0, start + START.length)}\n${errorTable()}\n${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = new URL('../README.md', import.meta.url);
  writeFileSync(file, withErrorTable(readFileSync(file, 'utf8')));
  console.log('README.md error table updated');
}
