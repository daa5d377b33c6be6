// The trampoline as the kernel maps it: the one executable segment of the ELF file that
// guest/build.mjs links from guest/skybridge/sb-trampoline.S at TRAMPOLINE_VA, and the
// addresses of its labels, which the kernel needs to attribute faults and to unwind calls.
// The file is checked before use: one page at TRAMPOLINE_VA, and 0F 01 D4 exactly at its
// two VMFUNC sites and nowhere else (the loader's rule for every other image).

import { readElf } from '../binary/elf-reader.ts';
import { scanCode } from '../binary/scanner.ts';
import { TRAMPOLINE_BYTES, TRAMPOLINE_VA } from './layout.ts';

const PT_LOAD = 1;
const PF_X = 1;

/** The labels of sb-trampoline.S the kernel uses. */
const LABELS = [
  'sb_call',
  'sb_vmfunc_call',
  'sb_server_entry',
  'sb_handler_return',
  'sb_vmfunc_return',
  'sb_client_return',
  'sb_abort',
  'sb_wild',
  'sb_end',
] as const;
export type TrampolineLabel = (typeof LABELS)[number];

export interface Trampoline {
  /** The page as mapped (code, then zeros). */
  readonly page: Uint8Array;
  readonly at: Readonly<Record<TrampolineLabel, number>>;
}

export function loadTrampoline(elf: Uint8Array): Trampoline {
  const f = readElf(elf);
  const x = f.programHeaders.filter((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0);
  if (x.length !== 1) throw new Error(`trampoline: ${x.length} executable segments, not 1`);
  const seg = x[0]!;
  if (Number(seg.vaddr) !== TRAMPOLINE_VA || Number(seg.memsz) > TRAMPOLINE_BYTES)
    throw new Error(
      `trampoline: its code must be one page at ${TRAMPOLINE_VA.toString(16)} (is ${seg.memsz} bytes at ${seg.vaddr.toString(16)})`,
    );
  const page = new Uint8Array(TRAMPOLINE_BYTES);
  page.set(elf.subarray(Number(seg.offset), Number(seg.offset + seg.filesz)));
  const at = {} as Record<TrampolineLabel, number>;
  for (const name of LABELS) {
    const s = f.symbols.find((y) => y.name === name);
    if (s === undefined) throw new Error(`trampoline: no symbol ${name}`);
    at[name] = Number(s.value);
  }
  const sites = scanCode(page.subarray(0, Number(seg.memsz)), BigInt(TRAMPOLINE_VA))
    .map((o) => Number(o.address))
    .sort((a, b) => a - b);
  if (sites.join() !== [at.sb_vmfunc_call, at.sb_vmfunc_return].join())
    throw new Error(
      `trampoline: 0F 01 D4 at ${sites.map((s) => s.toString(16)).join(', ')}, expected only its two VMFUNC sites`,
    );
  return { page, at };
}
