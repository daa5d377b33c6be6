// The instruction mix each kernel block is charged at (src/hw/mix.ts), from the compiled-code
// counts in mixes.ts (docs/research/kernel-mixes.md says how they were obtained). A block's
// instruction count excludes the memory accesses the model makes explicitly (charged as the
// loads and stores they are), so a block's mix is its code's classes without the plain MOV
// loads and stores; instructions with a cost of their own (WRMSR, MOV to CR3, locked
// operations, XSAVES) are run or charged as themselves, and are in no mix.

import { Mix, type ClassCounts } from '../hw/mix.ts';
import { AGGREGATE, FIASCO, SEL4, withoutPlainAccesses, type CompiledMix } from './mixes.ts';

const BUILD = {
  fiasco: 'kernkonzept/fiasco 245fce53, gcc 12.2, amd64 CONFIG_PERFORMANCE',
  sel4: 'seL4 10.1.1, gcc 12.2 -O2, x86_64 release',
};

function fromCompiled(name: string, m: CompiledMix, build: string): Mix {
  const how = m.walked ? 'the walked path' : 'every instruction of the code (static)';
  return new Mix(name, withoutPlainAccesses(m), `${build}: ${m.code}; ${how}`);
}

/** `counts` less `drop` (e.g. the pushes an entry path's model charges as stores). */
function minus(counts: ClassCounts, drop: ClassCounts): ClassCounts {
  const out: ClassCounts = { ...counts };
  for (const [k, v] of Object.entries(drop) as [keyof ClassCounts, number][]) {
    const left = (out[k] ?? 0) - v;
    if (left < 0) throw new Error(`mix: cannot drop ${v} ${k}`);
    if (left === 0) delete out[k];
    else out[k] = left;
  }
  return out;
}

// ---- Fiasco.OC: one mix per step of fiasco/paths.ts ----------------------------------------

const FIASCO_MIX = new Mix(
  'Fiasco.OC IPC path',
  AGGREGATE.fiasco.shareWithoutPlainAccesses,
  `${BUILD.fiasco}: ${AGGREGATE.fiasco.source}`,
);
const fiascoSteps = new Map(
  Object.entries(FIASCO).map(([k, m]) => [k, fromCompiled(`Fiasco.OC ${k}`, m, BUILD.fiasco)]),
);
/** The mix of Fiasco.OC's step `name`, or the whole path's for a step not counted on its own. */
export function fiascoMix(name: string): Mix {
  return fiascoSteps.get(name) ?? FIASCO_MIX;
}
/** Fiasco.OC's entry and exit assembly (not counted on its own: the path's mix). */
export const FIASCO_ENTRY = FIASCO_MIX;

// ---- seL4 ------------------------------------------------------------------------------

const sel4 = (key: string): Mix => fromCompiled(`seL4 ${key}`, SEL4[key]!, BUILD.sel4);
export const SEL4_MIX = {
  cHandleSyscall: sel4('c_handle_syscall'),
  call: sel4('fastpath_call.main'),
  replyRecv: sel4('fastpath_reply_recv.main'),
  slowEntry: sel4('slowEntry'),
  lookupSlow: sel4('lookupSlow'),
  sendIpc: sel4('sendIpc'),
  receiveIpc: sel4('receiveIpc'),
  epQueue: sel4('epQueue'),
  transfer: sel4('transfer'),
  transferWord: sel4('transferWord'),
  capTransfer: sel4('capTransfer'),
  setupCaller: sel4('setupCaller'),
  doReply: sel4('doReply'),
  possibleSwitch: sel4('possibleSwitch'),
} as const;

/** seL4's entry (handle_fastsyscall without its 16 pushes, charged as stores) and exit
 *  (restore_user_context without its 30 pops, charged as loads), pooled. */
export const SEL4_ENTRY = new Mix(
  'seL4 entry and exit',
  {
    ...sumCounts(
      minus(withoutPlainAccesses(SEL4.handle_fastsyscall!), { push: 16 }),
      minus(withoutPlainAccesses(SEL4.restore_user_context!), { pop: 30 }),
    ),
  },
  `${BUILD.sel4}: traps.S handle_fastsyscall and restore_user_context without the register saves and restores`,
);

function sumCounts(a: ClassCounts, b: ClassCounts): ClassCounts {
  const out: ClassCounts = { ...a };
  for (const [k, v] of Object.entries(b) as [keyof ClassCounts, number][])
    out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The common Subkernel core (scheduler, timer, address-space switch, IPIs) is modelled on
 *  seL4's: its slow path's generic kernel C. The Linux ABI's and SkyBridge's kernel-side
 *  handlers, whose code we did not compile, are charged as the same generic kernel C. */
export const COMMON_KERNEL = new Mix(
  'generic kernel C (seL4 slow path)',
  AGGREGATE.sel4Slow.shareWithoutPlainAccesses,
  `${BUILD.sel4}: ${AGGREGATE.sel4Slow.source}`,
);

// ---- Zircon ----------------------------------------------------------------------------

/** Zircon does not build outside Fuchsia's tree: a stand-in, said to be one. */
export const ZIRCON_KERNEL = new Mix(
  'Zircon (stand-in: generic kernel C/C++)',
  AGGREGATE.zircon.shareWithoutPlainAccesses,
  AGGREGATE.zircon.source,
);
export const ZIRCON_ENTRY = ZIRCON_KERNEL;

// ---- User-mode stand-ins ---------------------------------------------------------------

/** The TypeScript user libraries' stubs: register moves that load a system call's
 *  arguments (MOV r, imm / MOV r, r: the ALU class). */
export const USER_LIB = new Mix(
  'user stub: argument moves',
  { alu: 1 },
  'MOV r, imm and MOV r, r, which the interpreter charges as ALU operations',
);
