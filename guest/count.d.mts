// Types for count.mjs.
export function valgrindInstructionCount(path: string, args?: string[]): number;
