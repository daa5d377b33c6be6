// `skybridge/kernels`: the Rootkernel (the VMM under every Subkernel) and the Subkernels:
// the common core with seL4's, Fiasco.OC's and Zircon's personalities, the ELF loader and
// the machine-code thread body.

export * from '../rootkernel/index.ts';
export {
  DEFAULT_CONFIG,
  Subkernel,
  TIMER_VECTOR,
  RESCHEDULE_VECTOR,
  type KernelExtension,
  type ProgramBody,
  type SubkernelConfig,
} from '../kernel/subkernel.ts';
export { Sel4, type Sel4Options } from '../kernel/sel4/sel4.ts';
export { Fiasco } from '../kernel/fiasco/fiasco.ts';
export { Zircon, bootZircon, type ZirconOptions } from '../kernel/zircon/zircon.ts';
export {
  KERNELS,
  bootKernel,
  nativeIpc,
  type KernelName,
  type NativeIpc,
} from '../experiments/kernels.ts';
export { LoadError, loadElf, planElf, type ElfImage } from '../kernel/elf-loader.ts';
export { machineCodeBody, type MachineCodeOptions } from '../kernel/machine-code.ts';
export type { Process } from '../kernel/process.ts';
export type { Thread } from '../kernel/thread.ts';
