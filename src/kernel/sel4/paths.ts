// seL4's kernel paths as blocks of kernel text. The instruction counts are estimates from
// reading seL4 10.1.1's sources (docs/research/sel4-fastpath.md §2-§6): each block is one
// step of the C or assembly path between the memory accesses the model makes explicitly
// (those are charged as the loads and stores they are, one instruction each).

import type { Block, CodeLayout } from '../code-layout.ts';
import { SEL4_MIX as M } from '../kernel-mixes.ts';

export interface Sel4Paths {
  /** c_handle_syscall: FaultIP bookkeeping and dispatch (~12 instructions). */
  cHandleSyscall: Block;
  // fastpath_call (src/fastpath/fastpath.c)
  fpDecode: Block;
  fpChecks: Block;
  lookupLevel: Block;
  fpEpCheck: Block;
  fpEpState: Block;
  fpVtable: Block;
  fpPrio: Block;
  fpGrant: Block;
  fpDequeue: Block;
  fpBlockCaller: Block;
  fpReplyLink: Block;
  fpCopyMrs: Block;
  fpSetRunning: Block;
  fpSwitch: Block;
  // fastpath_reply_recv
  rrChecks: Block;
  rrNtfn: Block;
  rrCallerSlot: Block;
  rrPrio: Block;
  rrBlockSelf: Block;
  rrEnqueue: Block;
  rrDeleteReply: Block;
  // slowpath (src/api/syscall.c, src/object/endpoint.c, src/kernel/thread.c)
  slowEntry: Block;
  lookupSlow: Block;
  sendIpc: Block;
  receiveIpc: Block;
  epQueue: Block;
  transfer: Block;
  transferWord: Block;
  capTransfer: Block;
  setupCaller: Block;
  doReply: Block;
  possibleSwitch: Block;
}

export function layoutSel4(t: CodeLayout): Sel4Paths {
  t.align(64);
  // Each block at the mix of the compiled function it stands for (kernel-mixes.ts): the
  // fastpath_call steps at fastpath_call's straight line, fastpath_reply_recv's at its own.
  const call = (n: number, bytes: number): Block => t.block(n, bytes, M.call);
  const rr = (n: number, bytes: number): Block => t.block(n, bytes, M.replyRecv);
  const p: Sel4Paths = {
    cHandleSyscall: t.block(12, 40, M.cHandleSyscall),
    fpDecode: call(8, 28),
    fpChecks: call(6, 20),
    lookupLevel: call(10, 36),
    fpEpCheck: call(5, 16),
    fpEpState: call(3, 10),
    fpVtable: call(6, 20),
    fpPrio: call(4, 12),
    fpGrant: call(3, 10),
    fpDequeue: call(6, 20),
    fpBlockCaller: call(3, 10),
    fpReplyLink: call(8, 28),
    fpCopyMrs: call(2, 8),
    fpSetRunning: call(2, 6),
    fpSwitch: call(8, 28),
    rrChecks: rr(14, 48),
    rrNtfn: rr(3, 10),
    rrCallerSlot: rr(5, 16),
    rrPrio: rr(6, 20),
    rrBlockSelf: rr(4, 14),
    rrEnqueue: rr(8, 28),
    rrDeleteReply: rr(8, 28),
    slowEntry: t.block(40, 140, M.slowEntry),
    lookupSlow: t.block(30, 100, M.lookupSlow),
    sendIpc: t.block(45, 150, M.sendIpc),
    receiveIpc: t.block(45, 150, M.receiveIpc),
    epQueue: t.block(12, 40, M.epQueue),
    transfer: t.block(35, 120, M.transfer),
    transferWord: t.block(2, 6, M.transferWord),
    capTransfer: t.block(50, 170, M.capTransfer),
    setupCaller: t.block(25, 84, M.setupCaller),
    doReply: t.block(30, 100, M.doReply),
    possibleSwitch: t.block(20, 64, M.possibleSwitch),
  };
  return p;
}
