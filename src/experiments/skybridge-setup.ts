// SkyBridge for experiments: the Subkernel extension with the trampoline gcc built from
// guest/skybridge/sb-trampoline.S (built on first use, cached), and the calling-key seed.
// Variants of the trampoline (guest/build.mjs: sb-trampoline-rsb, -verw, -hardened) are the
// same file built with speculation hardening on (docs/mitigations.md).

import { SkyBridge } from '../skybridge/skybridge.ts';
import { loadTrampoline, type Trampoline } from '../skybridge/trampoline.ts';
import { SEEDS } from './experiment.ts';
import { guestImage } from './guest-image.ts';

/** The guest programs that are builds of the trampoline. */
export const TRAMPOLINES = [
  'sb-trampoline',
  'sb-trampoline-rsb',
  'sb-trampoline-verw',
  'sb-trampoline-hardened',
] as const;
export type TrampolineName = (typeof TRAMPOLINES)[number];

const cached = new Map<TrampolineName, Trampoline>();

export function trampoline(name: TrampolineName = 'sb-trampoline'): Trampoline {
  let t = cached.get(name);
  if (t === undefined) cached.set(name, (t = loadTrampoline(guestImage(name).bytes)));
  return t;
}

export function newSkyBridge(
  seed: number = SEEDS.skybridge,
  name: TrampolineName = 'sb-trampoline',
): SkyBridge {
  return new SkyBridge({ seed, trampoline: trampoline(name) });
}
