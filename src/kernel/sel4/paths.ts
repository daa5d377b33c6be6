// seL4's kernel paths as blocks of kernel text. The instruction counts are estimates from
// reading seL4 10.1.1's sources (docs/research/sel4-fastpath.md §2-§6): each block is one
// step of the C or assembly path between the memory accesses the model makes explicitly
// (those are charged as the loads and stores they are, one instruction each).

import type { Block, CodeLayout } from '../code-layout.ts';

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
  const p: Sel4Paths = {
    cHandleSyscall: t.block(12, 40),
    fpDecode: t.block(8, 28),
    fpChecks: t.block(6, 20),
    lookupLevel: t.block(10, 36),
    fpEpCheck: t.block(5, 16),
    fpEpState: t.block(3, 10),
    fpVtable: t.block(6, 20),
    fpPrio: t.block(4, 12),
    fpGrant: t.block(3, 10),
    fpDequeue: t.block(6, 20),
    fpBlockCaller: t.block(3, 10),
    fpReplyLink: t.block(8, 28),
    fpCopyMrs: t.block(2, 8),
    fpSetRunning: t.block(2, 6),
    fpSwitch: t.block(8, 28),
    rrChecks: t.block(14, 48),
    rrNtfn: t.block(3, 10),
    rrCallerSlot: t.block(5, 16),
    rrPrio: t.block(6, 20),
    rrBlockSelf: t.block(4, 14),
    rrEnqueue: t.block(8, 28),
    rrDeleteReply: t.block(8, 28),
    slowEntry: t.block(40, 140),
    lookupSlow: t.block(30, 100),
    sendIpc: t.block(45, 150),
    receiveIpc: t.block(45, 150),
    epQueue: t.block(12, 40),
    transfer: t.block(35, 120),
    transferWord: t.block(2, 6),
    capTransfer: t.block(50, 170),
    setupCaller: t.block(25, 84),
    doReply: t.block(30, 100),
    possibleSwitch: t.block(20, 64),
  };
  return p;
}
