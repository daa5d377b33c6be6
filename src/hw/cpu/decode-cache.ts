// Decoded instructions by host-physical address, shared by every core of a machine (code is
// decoded once wherever it runs). A page's decodings are dropped when anything writes to
// that page (PhysicalMemory.codeFrames): self- and cross-modifying code then re-decode, at
// page granularity (SDM Vol. 3A §11.6 asks only that a write to code take effect by the next
// serialising or branch point; the model makes it take effect at the next instruction).
// A remapped page is another host-physical page, so it has its own entries.

import type { PhysicalMemory } from '../phys-mem.ts';
import type { Insn } from './insn.ts';

export class DecodeCache {
  private readonly pages = new Map<number, (Insn | undefined)[]>();
  /** Decodings dropped because their page was written (for tests and reports). */
  invalidations = 0;
  /** Bumped by every invalidation: a core holding a page's table re-reads it when this moves. */
  generation = 0;

  constructor(private readonly mem: PhysicalMemory) {
    mem.onCodeWrite = (frame) => this.invalidate(frame);
  }

  /** The page table of `frame`'s decodings, created (and the frame watched) on first use. */
  page(frame: number): (Insn | undefined)[] {
    let p = this.pages.get(frame);
    if (p === undefined) {
      p = new Array<Insn | undefined>(4096);
      this.pages.set(frame, p);
      this.mem.codeFrames[frame] = 1;
    }
    return p;
  }

  invalidate(frame: number): void {
    if (this.pages.delete(frame)) this.invalidations++;
    this.generation++;
    this.mem.codeFrames[frame] = 0;
  }
}
