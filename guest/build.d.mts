// Types for build.mjs, so TypeScript tests can import it.
export interface Guest {
  name: string;
  description: string;
  /** Prints the same stdout (and exit status) on the host as in a faithful simulation. */
  hostComparable: boolean;
  /** '#PF', '#UD', '#DE' or 'hang' (never exits; run it with an instruction budget). */
  expectFault?: string;
  /** The signal that ends the program on Linux when it faults (SIGSEGV, SIGILL, SIGFPE). */
  hostSignal?: string;
  /** Arguments to pass after argv[0]. */
  args?: string[];
  /** Folder under guest/ ('linux' when absent). */
  dir?: string;
  /** Calls a kernel personality's own system calls: run by an experiment, not by `run`. */
  kernelProgram?: boolean;
  /** Contains SSE2 instructions (gcc auto-vectorisation); only 'vector' does. */
  sse?: boolean;
}
export const GUESTS: readonly Guest[];
export const CFLAGS: readonly string[];
export const OUT_DIR: string;
export function guestPath(name: string): string;
export function buildGuests(opts?: { quiet?: boolean; force?: boolean }): Promise<void>;
