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
  /** Contains SSE2 instructions: 'vector' (gcc auto-vectorisation) and the SQLite programs
   *  (scalar double arithmetic, and the loops gcc vectorises in SQLite). */
  sse?: boolean;
  /** Links the SQLite amalgamation (build/sqlite) and guest/sqlite's OS layer. */
  sqlite?: boolean;
  /** Other guest/ folders whose headers it includes (-I, and part of its hash). */
  includes?: string[];
  /** Other sources it links, as paths under guest/. */
  extra?: string[];
  /** SkyBridge's trampoline: assembly alone, linked at the address the kernel maps it at. */
  trampoline?: boolean;
  /** Its source file in `dir` when it is not `<name>.c` or `<name>.S` (a variant of another
   *  program's, built with `defines`). */
  source?: string;
  /** Preprocessor symbols it is built with (-D), part of its hash. */
  defines?: string[];
}
export const GUESTS: readonly Guest[];
export const CFLAGS: readonly string[];
export const OUT_DIR: string;
export function guestPath(name: string): string;
export function buildGuests(opts?: {
  quiet?: boolean;
  force?: boolean;
  /** Build only these programs (and what they need). */
  only?: string[] | null;
}): Promise<void>;
/** The npm package SQLite's amalgamation comes from, pinned. */
export const SQLITE_PACKAGE: { name: string; version: string; integrity: string };
/** The -D flags sqlite3.c is compiled with (besides CFLAGS). */
export const SQLITE_DEFINES: readonly string[];
export const SQLITE_CACHE_DIR: string;
/** The folder holding sqlite3.c and sqlite3.h, fetched with npm pack on first use. */
export function sqliteAmalgamation(opts?: {
  cacheDir?: string;
  log?: (line: string) => void;
  env?: Record<string, string>;
}): Promise<string>;
/** SQLite's version according to the amalgamation's sqlite3.h in `dir`. */
export function sqliteVersion(dir: string): string;
