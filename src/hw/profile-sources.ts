// Where each figure of an effective profile comes from: the --profile file that set it, or
// the default profile's `sources` (its own path, or the nearest enclosing one), and the
// effective profile as YAML with those sources as comments (`skybridge profile`).

import { Document, isMap, isPair, isScalar, type Node, type Pair } from 'yaml';
import type { CpuProfile } from './profile-schema.ts';
import { SKYLAKE } from './profile.ts';

export interface FieldSource {
  /** Dotted path ("ops.vmfunc"). */
  path: string;
  value: number | string;
  /** 'file': set by the --profile file; 'default': the default profile's figure. */
  from: 'default' | 'file';
  /** The source text: the default's `sources` entry (own or enclosing), or the file's own
   *  `sources` entry for a figure it set, if it gave one. */
  source: string | undefined;
  /** For a figure the file set: the default's value, if different. */
  defaultValue?: number | string;
}

function get(o: unknown, path: readonly string[]): unknown {
  let v = o;
  for (const k of path) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

/** The `sources` entry for `path` or the nearest enclosing path that has one. */
function sourceOf(sources: Record<string, string>, path: string): string | undefined {
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '')
    if (sources[p] !== undefined) return sources[p];
  return undefined;
}

/** Every leaf figure of `effective` (not `sources`) with its source; `file` is what the
 *  --profile file held, if one was given. */
export function profileSources(
  effective: CpuProfile,
  file?: Record<string, unknown>,
): FieldSource[] {
  const out: FieldSource[] = [];
  const walk = (o: Record<string, unknown>, path: string[]): void => {
    for (const [k, v] of Object.entries(o)) {
      const p = [...path, k];
      if (p.length === 1 && k === 'sources') continue;
      if (typeof v === 'object' && v !== null) {
        walk(v as Record<string, unknown>, p);
        continue;
      }
      const dotted = p.join('.');
      const set = file !== undefined && get(file, p) !== undefined;
      const fileSources = (file?.sources ?? {}) as Record<string, string>;
      const def = get(SKYLAKE, p) as number | string | undefined;
      out.push({
        path: dotted,
        value: v as number | string,
        from: set ? 'file' : 'default',
        source: set ? sourceOf(fileSources, dotted) : sourceOf(SKYLAKE.sources, dotted),
        ...(set && def !== undefined && def !== v ? { defaultValue: def } : {}),
      });
    }
  };
  walk(effective as unknown as Record<string, unknown>, []);
  return out;
}

/** `text` as comment lines of at most `width` characters (each starting with a space). */
function wrap(text: string, width = 96): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(` ${line}`);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(` ${line}`);
  return lines.join('\n');
}

/**
 * The effective profile as YAML (a valid --profile file; `sources` left out) with each
 * figure's source as a comment: a default's source above the figure, or above the group it
 * covers; a figure the file set is marked on its line with the file's name.
 */
export function profileYaml(
  effective: CpuProfile,
  fields: readonly FieldSource[],
  file?: string,
): string {
  const { sources: _sources, ...figures } = effective;
  const doc = new Document(figures);
  const origin = file === undefined ? 'the default' : `${file} merged over the default`;
  const marked = file === undefined ? '' : `; figures ${file} set are marked on their line`;
  doc.commentBefore = wrap(
    `CPU profile '${effective.name}': ${origin}. Each figure's source is above it, or above its group${marked}.`,
  );
  const byPath = new Map(fields.map((f) => [f.path, f]));
  const seen = new Set<string>();
  const visit = (node: Node | null | undefined, path: string[]): void => {
    if (!isMap(node)) return;
    for (const pair of node.items as Pair<Node, Node>[]) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const p = [...path, String(pair.key.value)];
      const dotted = p.join('.');
      const field = byPath.get(dotted);
      if (field?.from === 'file') {
        const was = field.defaultValue === undefined ? '' : `, default ${field.defaultValue}`;
        const own = field.source === undefined ? '' : `: ${field.source}`;
        if (isScalar(pair.value)) pair.value.comment = ` set by ${file ?? '?'}${was}${own}`;
      } else {
        // The default's source, once, at the outermost path it is given for.
        const text = SKYLAKE.sources[dotted];
        if (text !== undefined && !seen.has(text)) {
          seen.add(text);
          pair.key.commentBefore = wrap(text);
        }
      }
      visit(pair.value, p);
    }
  };
  visit(doc.contents as Node, []);
  return doc.toString({ lineWidth: 0 });
}
