/**
 * Writes `keyvend.schema.json` from the config schema (`npm run schema`), so editors can
 * complete and check `keyvend.json`. A test fails when the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigSchema } from './schema.js';

export function configJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/keyvend/keyvend/keyvend.schema.json',
    title: 'keyvend configuration',
    ...JSON.parse(JSON.stringify(ConfigSchema)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = new URL('../../keyvend.schema.json', import.meta.url);
  writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  console.log(`wrote ${fileURLToPath(target)}`);
}
