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

export type Occurrence = Where &
  (
    | { kind: 'vmfunc'; instruction: InstructionInfo }
    | { kind: 'in-instruction'; instruction: InstructionInfo }
    | { kind: 'spanning'; instructions: InstructionInfo[] }
    | { kind: 'data'; reason: string }
    | { kind: 'undecodable'; reason: string }
  );

export type OccurrenceKind = Occurrence['kind'];

/** Code occurrences can be rewritten; data and undecodable ones can only be reported. */
export function isCodeOccurrence(o: Occurrence): boolean {
  return o.kind === 'vmfunc' || o.kind === 'in-instruction' || o.kind === 'spanning';
}

export function describeOccurrence(o: Occurrence): string {
  switch (o.kind) {
    case 'vmfunc':
      return `VMFUNC instruction`;
    case 'in-instruction':
      return `${o.instruction.fields.join('+')} of \`${o.instruction.text}\``;
    case 'spanning':
      return `across ${o.instructions.map((i) => `\`${i.text}\` (${i.fields.join('+')})`).join(' and ')}`;
    case 'data':
      return `data: ${o.reason}`;
    case 'undecodable':
      return `undecodable: ${o.reason}`;
  }
}
