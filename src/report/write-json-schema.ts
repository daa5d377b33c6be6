// Writes docs/results.schema.json, the JSON Schema of `reproduce --json` generated from the
// zod schema (src/report/schema.ts): `npm run schema`. test/report/schema.test.ts fails when
// the file is stale. Formatted as prettier formats it, so `prettier --check` stays clean.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resultsJsonSchema } from './schema.ts';

export const SCHEMA_FILE = fileURLToPath(
  new URL('../../docs/results.schema.json', import.meta.url),
);

/** The file's expected text. */
export async function jsonSchemaText(): Promise<string> {
  // prettier is a development dependency: only this script and its test load it.
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(SCHEMA_FILE)) ?? {};
  return prettier.format(JSON.stringify(resultsJsonSchema(), null, 2), {
    ...options,
    filepath: SCHEMA_FILE,
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = await jsonSchemaText();
  let old = '';
  try {
    old = readFileSync(SCHEMA_FILE, 'utf8');
  } catch {
    // not written yet
  }
  if (old === text) process.stdout.write(`${SCHEMA_FILE}: up to date\n`);
  else {
    writeFileSync(SCHEMA_FILE, text);
    process.stdout.write(`${SCHEMA_FILE}: written\n`);
  }
}
