// Instruction mixes of the three kernels' IPC paths, counted in compiled code: for each
// step of src/kernel/{fiasco,sel4}/paths.ts, how many of the code's instructions fall in
// each of the interpreter's cost classes (src/hw/cpu/insn.ts CLASS_NAMES), decoded and
// classed by the repository's own decoder (src/hw/cpu/decode.ts decodeOne: the class the
// interpreter would charge; a memory-operand ALU instruction is `alu`, MOVZX from memory is
// `alu`, only MOV r,m is `load` and MOV m,r|imm `store`; a conditional jump is `branch`,
// a JMP `branchTaken`). Instructions the interpreter does not class, or that the model
// charges as operations of their own (WRMSR, MOV to/from CR, segment-register loads, CLTS,
// SYSRETQ, IRETQ, CLI/STI, WRFSBASE/WRGSBASE, LOCK-prefixed RMW, XCHG m,r, fences, XSAVE),
// are in `special` by name and in no class. Alignment NOPs (after a JMP or RET, never run)
// are not counted. docs/research/kernel-mixes.md gives the builds, the commands and the
// doubts.
//
// `walked` entries are the exact instructions of the benchmark's path (a reconstructed
// address range); the others are static: every instruction of the named (inlined) function's
// code in the hot text, both sides of every branch, so they include error and rare paths.
// Counts are what the code holds, not per-call frequencies; use the shares, not the totals,
// for a block whose instruction count comes from paths.ts.

import { CLASS_NAMES } from '../hw/cpu/insn.ts';

export type ClassName = (typeof CLASS_NAMES)[number];
export type ClassCounts = Partial<Record<ClassName, number>>;

export interface CompiledMix {
  /** True when the counted instructions are the benchmark's walked path. */
  walked: boolean;
  /** Instructions counted (classed + special). */
  instructions: number;
  classes: ClassCounts;
  /** Instructions with a cost of their own, by mnemonic (iced-x86's name). */
  special: Record<string, number>;
  /** Of classes.load: MOV r,m (all of them); of classes.store: MOV m,r and MOV m,imm. */
  plainLoads: number;
  plainStores: number;
  /** The code counted (function, address range or partition). */
  code: string;
}

const isClass = (k: string): k is ClassName => (CLASS_NAMES as readonly string[]).includes(k);

/** Entries from a table: one line each, columns separated by '|' (see FIASCO). */
function table(text: string): Record<string, CompiledMix> {
  const out: Record<string, CompiledMix> = {};
  for (const line of text.trim().split('\n')) {
    const [name, how, access, classes, special, code] = line.split('|').map((s) => s.trim());
    const c: ClassCounts = {};
    const t = classes!.split(' ');
    for (let i = 0; i < t.length; i += 2) {
      const k = t[i]!;
      if (!isClass(k)) throw new Error(`mixes.ts ${name}: '${k}' is not an instruction class`);
      const v = Number(t[i + 1]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`mixes.ts ${name}: bad count for ${k}`);
      c[k] = v;
    }
    const s: Record<string, number> = {};
    for (const p of special === '' ? [] : special!.split(', ')) {
      const at = p.lastIndexOf(' ');
      s[p.slice(0, at)] = Number(p.slice(at + 1));
    }
    const sum = (r: Record<string, number | undefined>): number =>
      Object.values(r).reduce<number>((a, b) => a + (b ?? 0), 0);
    const [plainLoads, plainStores] = access!.split(' ').map(Number) as [number, number];
    const walked = how === 'walked';
    out[name!] = {
      walked,
      instructions: sum(c) + sum(s),
      classes: c,
      special: s,
      plainLoads,
      plainStores,
      code: code ?? '',
    };
  }
  return out;
}

/** Fiasco.OC (kernkonzept/fiasco 245fce53, gcc 12.2, amd64 CONFIG_PERFORMANCE, MP, no JDB, no
 *  kernel isolation), per step of src/kernel/fiasco/paths.ts; addresses are fiasco.debug's.
 *  Columns: step | walked or static | plain loads, plain stores | classes | special | the code
 *  counted. */
export const FIASCO = table(`
wrapper | walked | 2 0 | alu 5 load 2 lea 1 branch 1 |  | sys_ipc_wrapper +0x10..+0x38: current thread, frame, UTCB, reply-bit test (the last JE is taken on a call)
lookupLocal | walked | 6 0 | alu 13 load 6 branch 5 shift 2 branchTaken 1 |  | sys_ipc_wrapper +0x90..+0xed: Obj_space_phys::lookup_local inlined, JMP *%r11 to invoke
derefReply | walked | 2 0 | alu 10 branch 2 load 2 branchTaken 1 | xchg m,r 1, lock cmpxchg 1 | sys_ipc_wrapper +0x3a..+0x89: Obj_cap::deref with the reply cap (XCHG, LOCK CMPXCHG), JMP *%r11
commitError | walked | 0 2 | store 2 ret 1 |  | sys_ipc_wrapper +0xf0..+0x103: Kobject_iface::commit_error inlined, the two stores and RET
gateInvoke | static | 7 5 | alu 37 pop 12 push 9 load 7 branchTaken 6 branch 5 store 5 shift 4 ret 2 lea 1 call 1 | lfence 3 | Ipc_gate::invoke, hot partition, without the inlined Ipc_gate::block
threadInvoke | static | 11 5 | alu 67 branch 24 branchTaken 22 load 11 push 9 pop 6 store 5 lea 2 call 1 ret 1 shift 1 |  | Thread_object::invoke without the inlined sys_* operations and Thread::invoke_arch
kobjectInvoke | static | 2 3 | alu 30 pop 9 push 6 branch 6 call 3 store 3 ret 3 load 2 lea 2 |  | Kobject_h<Scheduler, Kobject>::invoke (one instance of the template)
doIpc | static | 23 16 | alu 76 load 23 store 16 branch 12 pop 12 branchTaken 10 push 6 lea 4 shift 3 call 2 ret 2 |  | Thread::do_ipc outside the inlined prepare_receive, reset_caller, handshake_receiver, do_send_wait, do_ipc_receive
openWait | static | 6 9 | alu 15 store 9 branch 6 load 6 branchTaken 3 lea 2 shift 1 call 1 |  | Receiver::prepare_receive as inlined in Thread::do_ipc
resetCaller | static | 2 1 | alu 5 lea 4 branch 2 load 2 store 1 branchTaken 1 | lock cmpxchg 1 | Thread::reset_caller as inlined in Thread::do_ipc
checkSender | static | 32 41 | alu 62 store 41 load 32 branch 21 branchTaken 9 lea 7 call 3 shift 2 | mov_rm16_sreg 4, clts 1 | Thread::handshake_receiver (check_sender, sender_ok) as inlined in Thread::do_ipc
senderOkOpen | static | 25 34 | alu 50 store 34 load 25 branch 17 lea 6 branchTaken 6 call 2 shift 1 | mov_rm16_sreg 4, clts 1 | Receiver::sender_ok as inlined in Thread::do_ipc
transfer | static | 20 15 | alu 55 load 20 branch 18 store 15 pop 12 push 6 call 4 lea 2 ret 2 branchTaken 2 string 1 | lock xadd 1, mov_r64_cr 1, mov_cr_r64 1, clts 1 | Thread::transfer_msg (copy_utcb_to_utcb) without copy_utcb_to_ts, copy_ts_to_utcb, set_reply_cap
setReplyCap | static | 1 3 | alu 18 branch 3 store 3 call 2 branchTaken 2 load 1 | sfence 1, lock cmpxchg 2, xchg m,r 1 | Receiver::set_reply_cap as inlined in Thread::transfer_msg
afterSend | static | 23 16 | alu 76 load 23 store 16 branch 12 pop 12 branchTaken 10 push 6 lea 4 shift 3 call 2 ret 2 |  | same code as doIpc (Thread::do_ipc's own lines): not separable without a walk
receivePrep | static | 21 9 | alu 77 branch 33 load 21 branchTaken 13 store 9 lea 4 call 3 shift 1 |  | Thread::do_ipc_receive's own lines and get_next_sender, in Thread::do_ipc (no timer, no wait)
directCheck | static | 7 3 | alu 25 load 7 branch 6 branchTaken 5 store 3 call 2 |  | Thread::activate_ipc_partner's own lines, in Thread::do_ipc
switchExec | static | 19 20 | alu 56 branch 20 store 20 load 19 branchTaken 9 lea 7 push 6 pop 6 shiftCl 4 ret 3 shift 2 | lock cmpxchg 1, mfence 2, mov_r64_cr 1, mov_cr_r64 1, clts 1 | Context::switch_exec_locked and _switch_exec_common without switch_cpu and switch_handle_drq
switchCpu | static | 11 10 | alu 23 load 11 store 10 branch 6 branchTaken 5 shift 2 lea 2 push 2 pop 2 call 1 | mov_rm16_sreg 4, wrmsr 2, mov_sreg_r32m16 4 | Context::switch_cpu (load_gdt_user_entries, segment loads, FS/GS base) in _switch_exec_common
switchin | static | 7 2 | alu 11 load 7 branch 3 lea 2 store 2 branchTaken 2 ret 1 | mfence 1 | switchin_context_label without the inlined Space::switchin_context
switchinSpace | static | 22 6 | alu 53 load 22 branch 18 branchTaken 7 shiftCl 6 store 6 ret 3 lea 2 | lock cmpxchg 4, mov_cr_r64 2 | Space::switchin_context [.isra.0] and its inlined copy in switchin_context_label
switchTail | static | 23 17 | alu 90 branch 27 load 23 store 17 branchTaken 11 push 9 pop 9 call 5 nop 3 ret 1 shift 1 lea 1 | cli 3, lock cmpxchg 3, mfence 7, sti 4 | Context::handle_drq and switch_handle_drq as inlined in _switch_exec_common
receiverTail | static | 21 9 | alu 77 branch 33 load 21 branchTaken 13 store 9 lea 4 call 3 shift 1 |  | same code as receivePrep (Thread::do_ipc_receive's own lines)
callTail | static | 4 2 | alu 8 load 4 branch 2 store 2 branchTaken 2 | lock cmpxchg 2 | Receiver::reset_partner_reply_cap as inlined in Thread::do_ipc
senderEnqueue | static | 6 2 | alu 26 branch 10 load 6 lea 2 ret 2 store 2 push 1 pop 1 call 1 branchTaken 1 | cli 2, sti 1 | Sender::sender_enqueue and do_send_wait's own lines, without Prio_list::insert, timeouts, abort_send
prioWalk | static | 3 15 | store 15 alu 5 branch 4 load 3 branchTaken 3 lea 3 |  | Prio_list::insert as inlined in Sender::sender_enqueue
ipcSendMsg | static | 110 92 | alu 261 load 110 store 92 branch 78 pop 26 branchTaken 26 call 17 lea 9 push 8 string 5 shift 5 shiftCl 2 ret 2 nop 1 | lock xadd 3, mov_r64_cr 4, mov_cr_r64 4, clts 4, sfence 1, lock cmpxchg 3, cli 3, mfence 3, sti 3, fnsave 1, xsave 1, fxsave 1, xchg m,r 1 | Thread::ipc_send_msg, whole hot partition
receiveWait | static | 3 1 | alu 7 branchTaken 3 load 3 call 2 lea 1 store 1 branch 1 |  | Thread::do_receive_wait as inlined in Thread::do_ipc
schedule | static | 28 19 | alu 79 load 28 branch 27 store 19 pop 13 branchTaken 9 push 7 lea 7 call 4 shiftCl 4 shift 3 bits 2 ret 2 nop 1 | cli 3, sti 2 | Context::schedule, whole hot partition
deblock | static | 9 12 | alu 35 branch 13 store 12 load 9 call 4 lea 3 branchTaken 3 shiftCl 2 shift 1 |  | Context::deblock_and_schedule as inlined in Thread::do_ipc
`);

/** seL4 10.1.1 (57e5417c; gcc 12.2 -O2 -march=nehalem, x86_64, non-MCS, uniprocessor, release
 *  build), per function (the build has no DWARF; the fastpath functions are not inlined);
 *  columns as FIASCO's. */
export const SEL4 = table(`
handle_fastsyscall | static | 1 0 | push 16 alu 2 load 1 lea 1 branchTaken 1 | mov_cr_r64 1 | traps.S handle_fastsyscall, whole (entry: CR3, pushes, jump)
c_handle_syscall | static | 2 1 | alu 8 call 3 load 2 branch 2 store 1 |  | c_traps.c c_handle_syscall, whole
fastpath_call.main | static | 17 20 | alu 77 branch 23 store 20 load 17 pop 13 shift 10 push 6 shiftCl 4 bits 3 lea 3 call 1 | wrfsbase 1, wrgsbase 1, mov_cr_r64 1, sysretq 1 | fastpath_call from its entry to its SYSRETQ (0xffffffff80813a60..0xd6e): the hot straight line
fastpath_call | static | 17 22 | alu 91 branch 26 store 22 load 17 pop 13 shift 12 branchTaken 7 push 6 shiftCl 4 bits 3 lea 3 call 3 | wrfsbase 1, wrgsbase 1, mov_cr_r64 2, sysretq 1, clts 1, mov_r64_cr 1 | fastpath_call, whole (with the out-of-line slowpath calls and lazy-FPU branches)
fastpath_reply_recv.main | static | 19 22 | alu 83 branch 25 store 22 load 19 pop 13 shift 8 push 6 shiftCl 4 bits 4 lea 2 call 1 | wrfsbase 1, wrgsbase 1, mov_cr_r64 1, sysretq 1 | fastpath_reply_recv from its entry to its SYSRETQ (0xffffffff80813e00..0x14136)
fastpath_reply_recv | static | 20 26 | alu 99 branch 28 store 26 load 20 pop 13 shift 12 branchTaken 7 push 6 shiftCl 4 bits 4 call 3 lea 2 | wrfsbase 1, wrgsbase 1, mov_cr_r64 2, sysretq 1, clts 1, mov_r64_cr 1 | fastpath_reply_recv, whole
slowEntry | static | 34 27 | alu 155 pop 38 load 34 call 33 branch 30 branchTaken 28 store 27 push 16 ret 4 shift 4 bits 4 lea 3 | sti 1, cli 1 | slowpath, handleSyscall, handleInvocation, decodeInvocation, performInvocation_Endpoint
lookupSlow | static | 8 9 | alu 66 shift 9 store 9 branch 8 load 8 push 6 pop 6 branchTaken 6 shiftCl 4 lea 2 ret 2 bits 1 call 1 |  | lookupCapAndSlot, resolveAddressBits
sendIpc | static | 9 17 | alu 86 store 17 pop 16 branch 11 load 9 branchTaken 7 call 5 push 4 ret 2 shift 2 bits 1 lea 1 |  | sendIPC
receiveIpc | static | 26 30 | alu 129 pop 44 store 30 branch 26 load 26 branchTaken 14 push 8 call 7 bits 5 ret 4 shift 4 lea 3 |  | receiveIPC, handleRecv
epQueue | static | 2 5 | alu 11 store 5 branch 3 ret 3 load 2 branchTaken 1 |  | tcbEPAppend, tcbEPDequeue
transfer | static | 31 19 | alu 131 load 31 branch 26 store 19 pop 16 call 11 push 11 shift 9 ret 7 branchTaken 4 lea 3 bits 2 shiftCl 2 |  | doIPCTransfer, doNormalTransfer, copyMRs, lookupIPCBuffer
transferWord | static | 3 2 | alu 21 branch 6 load 3 store 2 ret 2 |  | copyMRs
capTransfer | static | 5 5 | alu 19 pop 10 branch 5 push 5 store 5 load 5 ret 3 branchTaken 2 shift 1 lea 1 call 1 |  | lookupExtraCaps (transferCaps is inlined into doNormalTransfer)
setupCaller | static | 2 8 | alu 22 store 8 branch 4 load 2 ret 2 lea 1 bits 1 branchTaken 1 |  | setupCallerCap
doReply | static | 12 11 | alu 48 load 12 branch 12 store 11 pop 10 call 8 branchTaken 8 push 5 shift 4 ret 2 bits 1 lea 1 |  | doReplyTransfer, handleReply, cteDeleteOne.part.0
possibleSwitch | static | 11 10 | alu 41 branch 16 load 11 call 11 store 10 ret 6 branchTaken 5 pop 5 push 3 bits 2 lea 1 shift 1 |  | possibleSwitchTo, schedule, switchToThread, Arch_switchToThread, setThreadState
restore_user_context | static | 11 15 | pop 30 alu 21 store 15 load 11 branch 7 branchTaken 3 call 2 lea 2 | wrfsbase 1, wrgsbase 1, mov_cr_r64 3, sysretq 1, clts 1, iretq 1, mov_r64_cr 1 | restore_user_context, whole (the slow path's exit)
`);

/** The classes of `m` without its plain MOV loads and stores (the model charges a block's
 *  explicit accesses as loads and stores of their own). */
export function withoutPlainAccesses(m: CompiledMix): ClassCounts {
  const c: ClassCounts = { ...m.classes };
  c.load = (c.load ?? 0) - m.plainLoads;
  c.store = (c.store ?? 0) - m.plainStores;
  if (c.load === 0) delete c.load;
  if (c.store === 0) delete c.store;
  return c;
}

/** Shares (summing to 1) of a weighted sum of mixes: each mix's classes normalised, times
 *  its weight. */
export function aggregate(parts: readonly [ClassCounts, number][]): ClassCounts {
  const sum: Record<string, number> = {};
  let total = 0;
  for (const [counts, weight] of parts) {
    const n = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
    for (const [k, v] of Object.entries(counts)) {
      sum[k] = (sum[k] ?? 0) + (weight * (v ?? 0)) / n;
    }
    total += weight;
  }
  const out: ClassCounts = {};
  for (const [k, v] of Object.entries(sum)) out[k as ClassName] = v / total;
  return out;
}

/** Fiasco.OC's on-path steps weighted by their walked instruction counts ("real N" in
 *  src/kernel/fiasco/paths.ts: the objdump walk of the benchmark's call and reply). */
const FIASCO_PATH: Record<string, number> = {
  wrapper: 9,
  lookupLocal: 27,
  derefReply: 17,
  gateInvoke: 48,
  doIpc: 48,
  openWait: 3,
  resetCaller: 3,
  checkSender: 32,
  senderOkOpen: 1,
  transfer: 48,
  setReplyCap: 14,
  afterSend: 13,
  receivePrep: 36,
  directCheck: 9,
  switchExec: 52,
  switchCpu: 61,
  switchin: 39,
  switchinSpace: 19,
  switchTail: 40,
  receiverTail: 37,
  callTail: 7,
};

/** seL4's fast path of one call and one reply: entry, dispatch, both fastpaths to SYSRETQ,
 *  each instruction once. */
const SEL4_FAST = [
  'handle_fastsyscall',
  'c_handle_syscall',
  'fastpath_call.main',
  'fastpath_reply_recv.main',
];
/** seL4's slow path (generic C kernel code). */
const SEL4_SLOW = [
  'slowEntry',
  'lookupSlow',
  'sendIpc',
  'receiveIpc',
  'epQueue',
  'transfer',
  'capTransfer',
  'setupCaller',
  'doReply',
  'possibleSwitch',
  'restore_user_context',
];

type Pick = (m: CompiledMix) => ClassCounts;
const all: Pick = (m) => m.classes;
const fiasco = (pick: Pick): ClassCounts =>
  aggregate(Object.entries(FIASCO_PATH).map(([k, w]) => [pick(FIASCO[k]!), w]));
/** Pooled: each listed function's instructions count once (weight = its instruction count). */
const pooled = (names: readonly string[], pick: Pick): ClassCounts =>
  aggregate(
    names.map((k) => [
      pick(SEL4[k]!),
      Object.values(pick(SEL4[k]!)).reduce((a, b) => a + (b ?? 0), 0),
    ]),
  );

export interface KernelMix {
  source: string;
  /** Shares of all classed instructions. */
  share: ClassCounts;
  /** Shares without the plain MOV loads and stores. */
  shareWithoutPlainAccesses: ClassCounts;
}

export const AGGREGATE: Record<'fiasco' | 'sel4' | 'sel4Slow' | 'zircon', KernelMix> = {
  fiasco: {
    source: "Fiasco.OC: each on-path step's mix weighted by its walked count (FIASCO_PATH)",
    share: fiasco(all),
    shareWithoutPlainAccesses: fiasco(withoutPlainAccesses),
  },
  sel4: {
    source: 'seL4: handle_fastsyscall, c_handle_syscall and both fastpaths to SYSRETQ, pooled',
    share: pooled(SEL4_FAST, all),
    shareWithoutPlainAccesses: pooled(SEL4_FAST, withoutPlainAccesses),
  },
  sel4Slow: {
    source: "seL4: the slow path's functions (SEL4_SLOW), pooled",
    share: pooled(SEL4_SLOW, all),
    shareWithoutPlainAccesses: pooled(SEL4_SLOW, withoutPlainAccesses),
  },
  zircon: {
    source:
      "not compiled (Zircon builds only in Fuchsia's tree): the mean of Fiasco.OC's path (C++, gcc -O2) and seL4's slow path (generic C), as a stand-in for generic kernel C++",
    share: aggregate([
      [fiasco(all), 1],
      [pooled(SEL4_SLOW, all), 1],
    ]),
    shareWithoutPlainAccesses: aggregate([
      [fiasco(withoutPlainAccesses), 1],
      [pooled(SEL4_SLOW, withoutPlainAccesses), 1],
    ]),
  },
};
