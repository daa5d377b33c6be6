// `skybridge/skybridge`: SkyBridge itself, a kernel extension for any Subkernel (servers,
// clients, per-client EPTP lists, the trampoline as machine code from guest/skybridge).

export {
  SkyBridge,
  type Binding,
  type SbEvent,
  type Server,
  type ServerOptions,
  type SkyBridgeOptions,
} from '../skybridge/skybridge.ts';
export { loadTrampoline, type Trampoline, type TrampolineLabel } from '../skybridge/trampoline.ts';
export { newSkyBridge, trampoline } from '../experiments/skybridge-setup.ts';
export { runSkyBridgeBench, type SbCase, type SbResult } from '../experiments/skybridge-bench.ts';
