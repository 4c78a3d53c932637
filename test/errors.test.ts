/** The README's error table and `src/errors.ts` list the same codes with the same statuses. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorTable, withErrorTable } from '../scripts/error-table.js';
import { ERRORS, KeyvendError } from '../src/errors.js';
import { REPO_ROOT } from './support/paths.js';

describe('error codes', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

  it('lists every code in the README with its HTTP status (npm run docs:errors)', () => {
    const documented = new Map(
      [...readme.matchAll(/^\| `(KEYVEND_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
    const inCode = new Map(Object.entries(ERRORS).map(([code, e]) => [code, e.status]));
    expect(documented).toEqual(inCode);
    expect(withErrorTable(readme)).toBe(readme);
    expect(errorTable()).toContain('KEYVEND_INTERNAL');
  });

  it('exposes messages below 500 only', () => {
    expect(new KeyvendError('KEYVEND_DEVICE_DISABLED').expose).toBe(true);
    expect(new KeyvendError('KEYVEND_STS_UNAVAILABLE').expose).toBe(false);
    expect(new KeyvendError('KEYVEND_BAD_REQUEST', 'x').statusCode).toBe(400);
  });

  it('prefixes every code with KEYVEND_', () => {
    for (const code of Object.keys(ERRORS)) expect(code).toMatch(/^KEYVEND_[A-Z0-9_]+$/);
  });
});
