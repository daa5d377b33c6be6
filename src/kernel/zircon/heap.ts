// The PMM page pool message packets come from, and the packets themselves.
//
// Zircon allocates every MessagePacket as a BufferChain of 4 KiB PMM pages (message_packet.cc,
// buffer_chain.h): the first page holds the Buffer's list node, the BufferChain, the
// MessagePacket, its Handle* array and the start of the payload; further pages hold a node
// and payload. pmm_alloc_pages takes pages off PmmNode's free list of vm_page_t descriptors
// under its lock (vm/pmm_node.cc). Here the pool is a fixed set of guest frames given to the
// PMM at boot; the free list, the descriptors and the packet fields are all in simulated
// memory, touched through the core.

import type { Core } from '../../hw/core.ts';
import type { Block } from '../code-layout.ts';
import { physmap, PHYSMAP_BASE } from '../layout.ts';
import type { Subkernel } from '../subkernel.ts';
import {
  BC,
  BUF_DATA,
  BUF_NEXT,
  BUF_PREV,
  MP,
  PAGE,
  PAGE_STATE,
  PMM,
  VM_PAGE_BYTES,
  VP,
  payloadOffset,
} from './objects.ts';
import type { ZirconPaths } from './paths.ts';
import { locked } from '../priced.ts';

const run = (core: Core, b: Block): void => core.run(b);

export class PagePool {
  /** Kernel address of the PmmNode and of the vm_page_t array. */
  readonly node: number;
  readonly pages: number;
  /** Guest-physical address of the first pool frame (frames are contiguous). */
  readonly firstGpa: number;

  constructor(
    k: Subkernel,
    readonly count: number,
    private readonly P: ZirconPaths,
  ) {
    const mem = k.machine.mem;
    this.firstGpa = k.frames.frames(count);
    const descGpa = k.frames.frames(Math.ceil((count * VM_PAGE_BYTES) / PAGE));
    const nodeGpa = k.frames.frame();
    this.node = physmap(nodeGpa);
    this.pages = physmap(descGpa);
    // Boot: every page on the free list, in address order (uncharged, like pmm_init).
    for (let i = 0; i < count; i++) {
      const d = descGpa + i * VM_PAGE_BYTES;
      mem.write64n(d + VP.next, i + 1 < count ? this.pages + (i + 1) * VM_PAGE_BYTES : 0);
      mem.write64n(d + VP.paddr, this.firstGpa + i * PAGE);
      mem.write32(d + VP.state, PAGE_STATE.FREE);
    }
    mem.write64n(nodeGpa + PMM.freeHead, this.pages);
    mem.write64n(nodeGpa + PMM.freeCount, count);
  }

  /** Free pages, read without charge (for tests). */
  freeCount(k: Subkernel): number {
    return k.machine.mem.read32(this.node - PHYSMAP_BASE + PMM.freeCount);
  }

  /** Guard<Mutex> on the node: Mutex::Acquire's and Release's compare-exchange. */
  private lock(core: Core): void {
    core.load64(this.node + PMM.lock);
    core.store64(this.node + PMM.lock, 1);
    locked(core);
  }
  private unlock(core: Core): void {
    core.store64(this.node + PMM.lock, 0);
    locked(core);
  }

  /** pmm_alloc_pages(n): kernel (physmap) addresses of n pages, or null when short. */
  alloc(core: Core, n: number): number[] | null {
    run(core, this.P.pmmAllocCall);
    this.lock(core);
    const free = core.load64(this.node + PMM.freeCount);
    if (free < n) {
      this.unlock(core);
      return null;
    }
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      run(core, this.P.pmmAllocPage);
      const d = core.load64(this.node + PMM.freeHead);
      core.store64(this.node + PMM.freeHead, core.load64(d + VP.next));
      core.store32(d + VP.state, PAGE_STATE.IPC);
      out.push(PHYSMAP_BASE + core.load64(d + VP.paddr));
    }
    core.store64(this.node + PMM.freeCount, free - n);
    this.unlock(core);
    return out;
  }

  /** pmm_free of a list of pages (kernel addresses). */
  free(core: Core, pages: readonly number[]): void {
    run(core, this.P.pmmFreeCall);
    this.lock(core);
    for (const p of pages) {
      run(core, this.P.pmmFreePage);
      // paddr_to_vm_page: arithmetic over the arena (in the block), then the descriptor.
      const d = this.pages + ((p - PHYSMAP_BASE - this.firstGpa) / PAGE) * VM_PAGE_BYTES;
      core.store32(d + VP.state, PAGE_STATE.FREE);
      core.store64(d + VP.next, core.load64(this.node + PMM.freeHead));
      core.store64(this.node + PMM.freeHead, d);
    }
    core.store64(this.node + PMM.freeCount, core.load64(this.node + PMM.freeCount) + pages.length);
    this.unlock(core);
  }
}

/** Payload bytes the first page holds after the packet header and `handles` pointers. */
export const firstCapacity = (handles: number): number => PAGE - payloadOffset(handles);
export const nextCapacity = PAGE - BUF_DATA;

/** Pages a packet of `bytes` bytes and `handles` handles needs. */
export function pagesFor(bytes: number, handles: number): number {
  const rest = bytes - firstCapacity(handles);
  return rest <= 0 ? 1 : 1 + Math.ceil(rest / nextCapacity);
}

/** MessagePacket::CreateCommon: a chain of pages with the packet constructed in the first.
 *  Returns the packet's kernel address (the first page), or null (ZX_ERR_NO_MEMORY). */
export function createPacket(
  core: Core,
  pool: PagePool,
  P: ZirconPaths,
  bytes: number,
  handles: number,
): number | null {
  run(core, P.msgCreate);
  const pages = pool.alloc(core, pagesFor(bytes, handles));
  if (pages === null) return null;
  const first = pages[0]!;
  for (let i = 0; i < pages.length; i++) {
    const p = pages[i]!;
    core.store64(p + BUF_NEXT, pages[i + 1] ?? 0);
    core.store64(p + BUF_PREV, pages[i - 1] ?? 0);
  }
  core.store64(first + BC.head, first);
  core.store64(first + BC.tail, pages[pages.length - 1]!);
  core.store64(first + BC.pages, pages.length);
  core.store64(first + MP.next, 0);
  core.store64(first + MP.prev, 0);
  core.store64(first + MP.chain, first + BC.head);
  core.store32(first + MP.dataSize, bytes);
  core.store32(first + MP.payloadOffset, payloadOffset(handles));
  core.store32(first + MP.numHandles, handles);
  core.store64(first + MP.handles, handles > 0 ? first + payloadOffset(0) : 0);
  return first;
}

/** The payload's pieces (kernel address, length) across the chain, walking the buffer
 *  list through the core (BufferChain::CopyIn/CopyOut). */
export function payloadPieces(
  core: Core,
  P: ZirconPaths,
  packet: number,
  bytes: number,
): { at: number; len: number }[] {
  const out: { at: number; len: number }[] = [];
  let page = packet;
  let offset = core.load32(packet + MP.payloadOffset);
  let left = bytes;
  while (left > 0 && page !== 0) {
    run(core, P.chainSegment);
    const len = Math.min(left, PAGE - offset);
    out.push({ at: page + offset, len });
    left -= len;
    page = core.load64(page + BUF_NEXT);
    offset = BUF_DATA;
  }
  return out;
}

/** MessagePacket::recycle: the chain's pages back to the PMM. */
export function freePacket(core: Core, pool: PagePool, packet: number): void {
  const pages: number[] = [];
  for (let p = packet; p !== 0; p = core.load64(p + BUF_NEXT)) pages.push(p);
  pool.free(core, pages);
}
