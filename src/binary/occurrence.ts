// What a scan reports: one record per occurrence of 0F 01 D4, discriminated by where it lies.
import type { InstructionField } from './instruction-fields.ts';

export interface InstructionInfo {
  address: bigint;
  fileOffset: number;
  length: number;
  /** The instruction's bytes, hex, e.g. "e8 0f 01 d4 ff". */
  bytes: string;
  /** GNU as (AT&T) syntax, as objdump prints it. */
  text: string;
  /** The fields of this instruction that hold bytes of the occurrence, in byte order. */
  fields: InstructionField[];
}

interface Where {
  /** Virtual address of the 0F byte. */
  address: bigint;
  fileOffset: number;
  section: string | undefined;
  /** The function (STT_FUNC) or data object whose chunk holds the 0F byte, if known. */
  symbol: string | undefined;
}

/**
 * Set on a code occurrence when nothing shows that its bytes are code rather than data the
 * linear sweep decoded (see README.md, "Code or data"): why it may be data.
 */
interface Doubt {
  possiblyData?: string;
}

export type Occurrence = Where &
  (
    | ({ kind: 'vmfunc'; instruction: InstructionInfo } & Doubt)
    | ({ kind: 'in-instruction'; instruction: InstructionInfo } & Doubt)
    | ({ kind: 'spanning'; instructions: InstructionInfo[] } & Doubt)
    | { kind: 'data'; reason: string }
    | { kind: 'undecodable'; reason: string }
  );

export type OccurrenceKind = Occurrence['kind'];

/** Code occurrences can be rewritten; data and undecodable ones can only be reported. */
export function isCodeOccurrence(o: Occurrence): boolean {
  return o.kind === 'vmfunc' || o.kind === 'in-instruction' || o.kind === 'spanning';
}

export function describeOccurrence(o: Occurrence): string {
  const doubt = (d: Doubt): string => (d.possiblyData ? ` (possibly data: ${d.possiblyData})` : '');
  switch (o.kind) {
    case 'vmfunc':
      return `VMFUNC instruction${doubt(o)}`;
    case 'in-instruction':
      return `${o.instruction.fields.join('+')} of \`${o.instruction.text}\`${doubt(o)}`;
    case 'spanning':
      return `across ${o.instructions.map((i) => `\`${i.text}\` (${i.fields.join('+')})`).join(' and ')}${doubt(o)}`;
    case 'data':
      return `data: ${o.reason}`;
    case 'undecodable':
      return `undecodable (possibly data): ${o.reason}`;
  }
}

/** The reason a code occurrence may be data, if any. */
export function possiblyDataReason(o: Occurrence): string | undefined {
  return o.kind === 'vmfunc' || o.kind === 'in-instruction' || o.kind === 'spanning'
    ? o.possiblyData
    : undefined;
}
