// An input file (a scenario, a sweep) that cannot be used as written: every problem found in
// it, each with where, in one message, so one run of the command lists them all.

export interface Problem {
  /** Where in the file, as `processes[1].image` or `axes.kernel` ('' for the whole file). */
  path: string;
  message: string;
}

export class FileProblemsError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly Problem[],
  ) {
    const n = problems.length;
    const lines = problems.map((p) => `  ${p.path || '(top level)'}: ${p.message}`);
    super(`${file}: ${n} problem${n === 1 ? '' : 's'}\n${lines.join('\n')}`);
  }
}
