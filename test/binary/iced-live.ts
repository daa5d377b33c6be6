// Counts live iced-x86 objects (test helper). Every iced class keeps its WebAssembly pointer in
// `__wbg_ptr`: set when the object is made (constructor or __wrap), zeroed when it is freed or
// when its ownership passes into WebAssembly (e.g. a MemoryOperand given to Instruction.create*).
// An accessor on each class prototype sees those writes, so the set below holds exactly the
// objects whose WebAssembly memory is still allocated.
import iced from 'iced-x86';

const live = new Set<object>();
const ptrs = new WeakMap<object, number>();
let installed = false;

export function trackIcedObjects(): void {
  if (installed) return;
  installed = true;
  for (const value of Object.values(iced as Record<string, unknown>)) {
    if (typeof value !== 'function' || !('prototype' in value)) continue;
    const proto = (value as { prototype: object }).prototype;
    if (typeof (proto as { free?: unknown }).free !== 'function') continue;
    Object.defineProperty(proto, '__wbg_ptr', {
      configurable: true,
      get(this: object): number {
        return ptrs.get(this) ?? 0;
      },
      set(this: object, p: number) {
        ptrs.set(this, p);
        if (p === 0) live.delete(this);
        else live.add(this);
      },
    });
  }
}

/** Live iced objects by class name. */
export function liveIcedObjects(): Map<string, number> {
  const m = new Map<string, number>();
  for (const o of live) m.set(o.constructor.name, (m.get(o.constructor.name) ?? 0) + 1);
  return m;
}
