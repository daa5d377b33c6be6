// A Redis server for the sweep queue's tests: Debian's redis-server on a free loopback port,
// with no persistence, stopped after the test. Where redis-server is missing it is installed
// (as root), or the tests fail and say how to install it, unless SKYBRIDGE_NO_REDIS=1 lets them
// skip with a message saying that they did.

import { spawn, type ChildProcess } from 'node:child_process';
import { debianProgram } from '../debian-package.ts';
import { createServer } from 'node:net';

export interface RedisServer {
  url: (queue: string) => string;
  stop(): Promise<void>;
}

export const NO_REDIS = process.env.SKYBRIDGE_NO_REDIS === '1';

/** Whether redis-server can be run (installing Debian's package when missing, as root);
 *  throws with how to get it unless skipping is allowed. */
export function redisAvailable(): boolean {
  const r = debianProgram('/usr/bin/redis-server', 'redis-server');
  if ('path' in r) return true;
  if (NO_REDIS) {
    process.stderr.write(
      `\n*** SKIPPED: the sweep queue tests (${r.missing}; SKYBRIDGE_NO_REDIS=1) ***\n\n`,
    );
    return false;
  }
  throw new Error(
    `the sweep queue tests need redis-server: ${r.missing} (or set SKYBRIDGE_NO_REDIS=1 to skip them)`,
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once `child`'s stdout has printed a line matching `pattern`. */
export function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  ms: number,
  what: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`${what}: no ${pattern} in ${ms} ms; output:\n${seen}`)),
      ms,
    );
    const onData = (b: Buffer): void => {
      seen += b.toString();
      const m = pattern.exec(seen);
      if (m !== null) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(m[0]);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before printing ${pattern}:\n${seen}`));
    });
  });
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await waitForOutput(child, /Ready to accept connections/, 10_000, 'redis-server');
  return {
    url: (queue) => `redis://127.0.0.1:${port}/0/${queue}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
