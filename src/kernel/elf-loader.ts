// Loads a static x86-64 ELF executable into a new process: each PT_LOAD's pages get frames
// of their own, filled from the file and zeroed past p_filesz (the .bss), and mapped with the
// union of the permissions of the segments that touch them. W^X holds: a page both writable
// and executable is refused, so code is never writable and data never executable. Executable
// pages are scanned for VMFUNC's bytes (0F 01 D4) as SkyBridge's loader requires.

import { readElfHeader, readProgramHeaders } from '../binary/elf-reader.ts';
import { EM_X86_64, ET_DYN, ET_EXEC, PF_W, PF_X, PT_LOAD } from '../binary/elf-types.ts';
import { ElfFormatError } from '../binary/errors.ts';
import { scanCode } from '../binary/scanner.ts';
import type { Process } from './process.ts';
import type { Subkernel } from './subkernel.ts';
import { USER_DATA } from './layout.ts';

/** Where an ELF image may lie: above the first 64 KiB (null-pointer guard, as Linux's
 *  vm.mmap_min_addr) and below USER_DATA. */
export const IMAGE_MIN = 0x1_0000;
export const IMAGE_MAX = USER_DATA;

/** The program cannot be loaded; the message says why. */
export class LoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoadError';
  }
}

interface PlannedPage {
  bytes: Uint8Array;
  write: boolean;
  exec: boolean;
}

export interface ElfImage {
  entry: number;
  /** Page address → contents and permissions. */
  pages: Map<number, PlannedPage>;
  /** First byte after the highest segment, page-aligned up: where brk starts. */
  end: number;
}

/** Checks and lays out an ELF file's loadable segments; throws LoadError or ElfFormatError. */
export function planElf(file: Uint8Array): ElfImage {
  const h = readElfHeader(file);
  if (h.machine !== EM_X86_64)
    throw new LoadError(`not an x86-64 executable (e_machine ${h.machine}, expected ${EM_X86_64})`);
  if (h.type === ET_DYN)
    throw new LoadError('a position-independent executable: link it with -static -no-pie');
  if (h.type !== ET_EXEC) throw new LoadError(`not an executable (e_type ${h.type})`);
  const pages = new Map<number, PlannedPage>();
  let end = 0;
  let loads = 0;
  for (const ph of readProgramHeaders(file, h)) {
    if (ph.type !== PT_LOAD || ph.memsz === 0n) continue;
    loads++;
    const at = `segment ${ph.index} (p_vaddr 0x${ph.vaddr.toString(16)})`;
    if (ph.filesz > ph.memsz) throw new ElfFormatError(`${at}: p_filesz exceeds p_memsz`);
    if (ph.offset + ph.filesz > BigInt(file.length))
      throw new ElfFormatError(`${at}: its bytes extend past the end of the file`);
    if (ph.vaddr < BigInt(IMAGE_MIN) || ph.vaddr + ph.memsz > BigInt(IMAGE_MAX))
      throw new LoadError(
        `${at}: outside the range programs are loaded at [0x${IMAGE_MIN.toString(16)}, 0x${IMAGE_MAX.toString(16)})`,
      );
    const write = (ph.flags & PF_W) !== 0;
    const exec = (ph.flags & PF_X) !== 0;
    if (write && exec) throw new LoadError(`${at}: writable and executable (W^X is enforced)`);
    const va = Number(ph.vaddr);
    const memsz = Number(ph.memsz);
    const filesz = Number(ph.filesz);
    const off = Number(ph.offset);
    for (let p = va - (va % 4096); p < va + memsz; p += 4096) {
      let page = pages.get(p);
      if (page === undefined) {
        page = { bytes: new Uint8Array(4096), write: false, exec: false };
        pages.set(p, page);
      }
      page.write ||= write;
      page.exec ||= exec;
      if (page.write && page.exec)
        throw new LoadError(`page 0x${p.toString(16)} would be writable and executable (W^X)`);
      const from = Math.max(p, va);
      const to = Math.min(p + 4096, va + filesz);
      if (to > from) page.bytes.set(file.subarray(off + from - va, off + to - va), from - p);
    }
    end = Math.max(end, va + memsz);
  }
  if (loads === 0) throw new LoadError('no loadable segment');
  const entry = Number(h.entry);
  const ep = pages.get(entry - (entry % 4096));
  if (ep === undefined || !ep.exec)
    throw new LoadError(`entry point 0x${entry.toString(16)} is not in an executable segment`);
  return { entry, pages, end: end + ((4096 - (end % 4096)) % 4096) };
}

/** Loads `file` as process `name` of `k`. */
export function loadElf(
  k: Subkernel,
  name: string,
  file: Uint8Array,
): { process: Process; image: ElfImage } {
  const image = planElf(file);
  // The VMFUNC scan over each run of contiguous executable pages (so a sequence across a
  // page boundary is seen).
  const execPages = [...image.pages.entries()]
    .filter(([, p]) => p.exec)
    .sort((a, b) => a[0] - b[0]);
  for (let i = 0; i < execPages.length;) {
    let j = i;
    while (j + 1 < execPages.length && execPages[j + 1]![0] === execPages[j]![0] + 4096) j++;
    const run = new Uint8Array((j - i + 1) * 4096);
    for (let n = i; n <= j; n++) run.set(execPages[n]![1].bytes, (n - i) * 4096);
    const stray = scanCode(run, BigInt(execPages[i]![0]));
    if (stray.length > 0)
      throw new LoadError(
        `${stray.length} VMFUNC byte sequence(s) (0F 01 D4) in executable pages, first at 0x${stray[0]!.address.toString(16)}; rewrite the binary with \`skybridge rewrite\``,
      );
    i = j + 1;
  }
  const space = k.newAddressSpace();
  for (const [va, page] of image.pages) {
    const gpa = k.frames.frame();
    k.machine.mem.writeBytes(gpa, page.bytes);
    space.map(va, gpa, 4096, { writable: page.write, noExec: !page.exec });
  }
  return { process: k.addProcess(name, space), image };
}
