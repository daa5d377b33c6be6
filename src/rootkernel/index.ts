// The Rootkernel's public surface (see rootkernel.ts for the VMM, hypercalls.ts for the
// VMCALL interface, layout.ts for where it lives in host memory).

export {
  Rootkernel,
  RootkernelError,
  type ExitOutcome,
  type GuestEntry,
  type Violation,
} from './rootkernel.ts';
export {
  Hypercall,
  HypercallError,
  UpcallRegs,
  hypercallErrorName,
  type HypercallNumber,
  type HypercallErrorCode,
} from './hypercalls.ts';
export {
  DEFAULT_RESERVED_BYTES,
  EPTP_WINDOW_BYTES,
  MAX_VIEWS,
  LayoutError,
  computeLayout,
  type Layout,
  type RootkernelConfig,
} from './layout.ts';
export { HYPERVISOR_LEAF, cpuidLeaf, vendorString } from './cpuid.ts';
