// The sweep's progress on stderr: runs finished of runs to do, and the time left at the rate
// so far (cli-progress). Drawn only on a terminal; a sweep whose stderr is a file or a pipe
// says nothing until its summary.

import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number): void;
  tick(): void;
  stop(): void;
}

export function progressBar(show: boolean): Progress {
  if (!show) return { start() {}, tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format:
        'sweep [{bar}] {value}/{total} runs, {duration_formatted} so far, ETA {eta_formatted}',
      stream: process.stderr,
      clearOnComplete: true,
      // Runs differ in length: the rate is taken over the last 20 of them.
      etaBuffer: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    start(total) {
      bar.start(total, 0);
      started = true;
    },
    tick() {
      if (started) bar.increment();
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
