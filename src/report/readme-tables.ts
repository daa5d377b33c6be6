// The result tables in README.md, generated from a results document: each sits between
// `<!-- generated: NAME … -->` and `<!-- end generated -->`, and is rebuilt from rows found
// by id (so a table never depends on the rows' order or wording). `npm run readme` rewrites
// them from a fresh run (scripts/readme.ts); test/report/readme.test.ts fails when README.md
// says something a run no longer measures.

import { mdTable } from './export.ts';
import type { ExperimentResult, ResultRow, ResultsDocument } from './schema.ts';

/** A number as the README writes it: thousands separated, up to two decimals. */
export function readmeNumber(v: number): string {
  return v.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** A document's rows by id. */
export class Rows {
  private readonly byId = new Map<string, ResultRow>();
  constructor(experiments: readonly ExperimentResult[]) {
    for (const e of experiments) for (const r of e.rows) this.byId.set(r.id, r);
  }
  get(id: string): ResultRow {
    const r = this.byId.get(id);
    if (r === undefined) throw new Error(`README table: the results have no row ${id}`);
    return r;
  }
  value(id: string): number {
    return this.get(id).value;
  }
}

/** `npx skybridge reproduce primitives`, as the README shows it beside the paper's Table 1. */
function primitivesTable(rows: Rows): string {
  const p = 'primitives';
  const cycles = (id: string): string => `${readmeNumber(rows.value(id))} cycles`;
  const published = (id: string): string => {
    const ref = rows.get(id).reference;
    return ref === undefined ? '—' : readmeNumber(ref);
  };
  const one = (label: string, id: string, ref?: string): string[] => [
    label,
    cycles(`${p}.${id}`),
    ref ?? published(`${p}.${id}`),
  ];
  const walk = (label: string, ept: string): string[] => [
    label,
    `${readmeNumber(rows.value(`${p}.tlb-miss-walk.references.ept-${ept}.cold`))} references, ${cycles(`${p}.tlb-miss-walk.cycles.ept-${ept}.cold`)}`,
    '—',
  ];
  return mdTable(
    ['measurement', 'simulated', 'published (paper, Table 1; calibrated, see below)'],
    [
      one('VMFUNC (EPTP switch), warm', 'vmfunc.cycles.warm'),
      one('MOV to CR3, flushing', 'mov-cr3.cycles.pcid-off.flush'),
      one('MOV to CR3, PCID no-flush', 'mov-cr3.cycles.pcid-on.no-flush', '(derived)'),
      one('no-op system call, KPTI off', 'syscall.cycles.kpti-off.pcid-off'),
      one('no-op system call, KPTI on', 'syscall.cycles.kpti-on.pcid-on'),
      one('VM exit + entry round trip', 'vm-exit-entry.cycles'),
      walk('TLB-miss 2-D walk, 4 KiB EPT, nothing cached', '4k'),
      walk('TLB-miss 2-D walk, 1 GiB EPT, nothing cached', '1g'),
    ],
    [false, true, true],
  );
}

const KERNEL_ROWS = [
  { slug: 'sel4', label: 'seL4 (fastpath `seL4_Call`/`seL4_ReplyRecv`)', message: 'words-0' },
  { slug: 'fiasco', label: 'Fiasco.OC (`l4_ipc_call` through an IPC gate)', message: 'words-0' },
  { slug: 'zircon', label: 'Zircon (`zx_channel_call`, wait, read, write)', message: 'bytes-4' },
] as const;

/** The `ipc` experiment's first rows: each kernel's round trip natively and with SkyBridge. */
function ipcKernelsTable(rows: Rows): string {
  const body = KERNEL_ROWS.map((k) => {
    const id = (mechanism: string, metric: string, kpti: boolean, message?: string): string =>
      [
        'ipc.kernels',
        k.slug,
        mechanism,
        metric,
        'interAs',
        `kpti-${kpti ? 'on' : 'off'}`,
        'pcid-on',
        message,
      ]
        .filter((s) => s !== undefined && s !== '')
        .join('.');
    const native = (kpti: boolean): number =>
      rows.value(id('native', 'roundtrip', kpti, k.message));
    const sb = (kpti: boolean): number => rows.value(id('skybridge', 'roundtrip', kpti, 'bytes-0'));
    const faster = (kpti: boolean): string =>
      `${rows.value(id('', 'speedup', kpti)).toFixed(1)}× faster`;
    return [
      k.label,
      `${readmeNumber(native(false))} cycles`,
      `${readmeNumber(sb(false))} cycles`,
      faster(false),
      `${readmeNumber(native(true))} → ${readmeNumber(sb(true))} (${faster(true)})`,
    ];
  });
  return mdTable(
    ['kernel', 'native IPC', 'with SkyBridge', 'SkyBridge is', 'with KPTI: native → SkyBridge'],
    body,
    [false, true, true, true, true],
  );
}

/** Every generated table: its marker name, the experiments it needs, how it is drawn. */
export const README_TABLES = {
  primitives: { experiments: ['primitives'], render: primitivesTable },
  'ipc-kernels': { experiments: ['ipc'], render: ipcKernelsTable },
} as const satisfies Record<
  string,
  { experiments: readonly string[]; render: (r: Rows) => string }
>;

export type ReadmeTable = keyof typeof README_TABLES;

const BLOCK = /(<!-- generated: ([a-z0-9-]+) [^>]*-->\n)([\s\S]*?)(\n<!-- end generated -->)/g;

/** The tables as `doc` draws them, by name. */
export function readmeTables(
  doc: Pick<ResultsDocument, 'experiments'>,
): Record<ReadmeTable, string> {
  const rows = new Rows(doc.experiments);
  const out = {} as Record<ReadmeTable, string>;
  for (const [name, t] of Object.entries(README_TABLES)) out[name as ReadmeTable] = t.render(rows);
  return out;
}

export interface ReadmeBlock {
  name: string;
  /** What README.md has between the markers. */
  text: string;
}

/** The generated blocks in `readme`, in order. */
export function readmeBlocks(readme: string): ReadmeBlock[] {
  return [...readme.matchAll(BLOCK)].map((m) => ({ name: m[2]!, text: m[3]! }));
}

/**
 * `readme` with every generated block replaced by `tables`; throws on a marker naming no
 * table, and when a table has no marker.
 */
export function updateReadme(readme: string, tables: Record<ReadmeTable, string>): string {
  const seen = new Set<string>();
  const text = readme.replace(BLOCK, (_all, open: string, name: string, _old, close: string) => {
    if (!(name in tables)) throw new Error(`README.md: no generated table is called '${name}'`);
    seen.add(name);
    return `${open}${tables[name as ReadmeTable]}${close}`;
  });
  const missing = Object.keys(tables).filter((n) => !seen.has(n));
  if (missing.length > 0)
    throw new Error(`README.md has no markers for the table(s) ${missing.join(', ')}`);
  return text;
}
