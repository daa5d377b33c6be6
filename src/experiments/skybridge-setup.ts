// SkyBridge for experiments: the Subkernel extension with the trampoline gcc built from
// guest/skybridge/sb-trampoline.S (built on first use, cached), and the calling-key seed.

import { SkyBridge } from '../skybridge/skybridge.ts';
import { loadTrampoline, type Trampoline } from '../skybridge/trampoline.ts';
import { SEEDS } from './experiment.ts';
import { guestImage } from './guest-image.ts';

let cached: Trampoline | null = null;

export function trampoline(): Trampoline {
  return (cached ??= loadTrampoline(guestImage('sb-trampoline').bytes));
}

export function newSkyBridge(seed: number = SEEDS.skybridge): SkyBridge {
  return new SkyBridge({ seed, trampoline: trampoline() });
}
