// Errors the CLI prints as one line (no stack trace), and the exit statuses they lead to.

/** Exit statuses every command shares (scan adds 3, "found"; run passes the program's on). */
export const EXIT = { ok: 0, error: 1, usage: 2 } as const;

/**
 * An error the user caused through what a file holds or what a run met (a file that is not
 * what we handle, a refused rewrite, a program that faulted): one line, exit status 1.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A bad option or argument (an unknown experiment ID): one line, exit status 2, as
 * commander's own usage errors (unknown option, missing argument) exit.
 */
export class ArgumentError extends Error {
  readonly exitCode = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'ArgumentError';
  }
}
