// Reads a results document that `skybridge reproduce --json` wrote, and checks it against the
// schema before anything is drawn from it: a figure from a malformed document would show
// values the tool never measured.

import { readFileSync } from 'node:fs';
import { resultsDocumentSchema, SCHEMA_VERSION, type ResultsDocument } from './schema.ts';

/** How many schema problems an error names (the first ones; the count says if there are more). */
const SHOWN_ISSUES = 5;

/** `json` as a results document, or an error naming `source` and the first problems. */
export function validateResults(json: unknown, source: string): ResultsDocument {
  const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== undefined && version !== SCHEMA_VERSION)
    throw new Error(
      `${source}: results schema version ${String(version)}, but this tool reads version ${SCHEMA_VERSION}; run 'skybridge reproduce --json' again`,
    );
  const r = resultsDocumentSchema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues;
    const shown = issues
      .slice(0, SHOWN_ISSUES)
      .map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`);
    const more = issues.length > SHOWN_ISSUES ? `; and ${issues.length - SHOWN_ISSUES} more` : '';
    throw new Error(
      `${source}: not a results document of 'skybridge reproduce --json' (docs/results.schema.json): ${shown.join('; ')}${more}`,
    );
  }
  return r.data;
}

export function parseResults(text: string, source: string): ResultsDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return validateResults(json, source);
}

/** `file`'s text; an error naming the file (and the system's code) if it cannot be read. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${file}${code === undefined ? '' : ` (${code})`}`);
  }
}

export function readResults(file: string): ResultsDocument {
  return parseResults(readText(file), file);
}
