// `skybridge/machine`: the simulated x86-64 machine (src/hw). A Machine has cores, caches,
// physical memory, counters and a trace; the instructions with an architectural effect are
// functions of a Core (isa.ts, vmx.ts); a CPU profile gives every cost.

export {
  Machine,
  DEFAULT_MACHINE,
  type MachineConfig,
  type MachineObserver,
} from '../hw/machine.ts';
export { Core, R, CS_KERNEL, CS_USER, SS_KERNEL, SS_USER, type CoreEnv } from '../hw/core.ts';
export {
  COUNTERS,
  COUNTER_COUNT,
  CounterSnapshot,
  MODE_NAMES,
  Mode,
  counterIndex,
  type CounterFilter,
  type CounterName,
} from '../hw/counters.ts';
export {
  SKYLAKE,
  ProfileError,
  loadProfile,
  mergeProfile,
  validateProfile,
} from '../hw/profile.ts';
export { profileSchema, type CpuProfile } from '../hw/profile-schema.ts';
export { profileSources, type FieldSource } from '../hw/profile-sources.ts';
export { Trace, type TraceEvent, type TraceKind } from '../hw/trace.ts';
export { Trap } from '../hw/traps.ts';
export { cpuid, invlpg, invpcid, movToCr3, rdtsc, swapgs, syscall, sysret } from '../hw/isa.ts';
export { invept, vmcall, vmEntry, vmfunc, VmxFail } from '../hw/vmx.ts';
export { Vmcs, ExitReason } from '../hw/vmcs.ts';
export { ENC } from '../hw/encodings.ts';
export { Interpreter, Stop } from '../hw/cpu/interpreter.ts';
