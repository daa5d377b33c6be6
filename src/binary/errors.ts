// Typed errors of the binary tools: every failure the user can cause is one of these, with a
// one-line message; anything else escaping src/binary is a bug.

/** The input is not an ELF file this tool handles, or its headers are inconsistent. */
export class ElfFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElfFormatError';
  }
}

/** The rewrite cannot produce an output that is both clean and shown equivalent. */
export class RewriteRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RewriteRefusedError';
  }
}

/** Reading the input or writing the output failed (missing file, unwritable directory). */
export class BinaryIoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BinaryIoError';
  }
}

/** True for the errors this module throws on purpose. */
export function isBinaryToolError(err: unknown): err is Error {
  return (
    err instanceof ElfFormatError ||
    err instanceof RewriteRefusedError ||
    err instanceof BinaryIoError
  );
}
