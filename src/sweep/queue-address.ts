// Where a sweep's queue is: `redis://[USER[:PASSWORD]@]HOST[:PORT][/DB[/NAME]]` (rediss:// for
// TLS), as `skybridge sweep --queue` and `skybridge worker --queue` take it. DB is Redis's
// database number (default 0) and NAME the BullMQ queue's name (default skybridge-sweep), so
// several sweeps' workers can share one Redis server.

import type { ConnectionOptions } from 'bullmq';
import { SweepArgumentError } from './errors.ts';

export const DEFAULT_QUEUE = 'skybridge-sweep';

export interface QueueAddress {
  connection: ConnectionOptions;
  name: string;
  /** The address without its password, for messages. */
  display: string;
}

export function parseQueueAddress(text: string): QueueAddress {
  const bad = (why: string): never => {
    throw new SweepArgumentError(
      `--queue ${text}: ${why} (expected redis://HOST:PORT[/DB[/NAME]], e.g. redis://127.0.0.1:6379/0/my-sweep)`,
    );
  };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return bad('not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') bad('not a redis:// URL');
  if (url.hostname === '') bad('no host');
  const port = url.port === '' ? 6379 : Number(url.port);
  const parts = url.pathname.split('/').filter((p) => p !== '');
  if (parts.length > 2) bad('too many parts after the host');
  const db = parts[0] === undefined ? 0 : Number(parts[0]);
  if (!Number.isInteger(db) || db < 0) bad(`'${parts[0]}' is not a database number`);
  const name = parts[1] === undefined ? DEFAULT_QUEUE : decodeURIComponent(parts[1]);
  if (!/^[\w.-]+$/.test(name)) bad(`'${name}' is not a queue name (letters, digits, _ . -)`);
  if (url.search !== '' || url.hash !== '') bad('no ?query or #fragment is taken');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const connection: ConnectionOptions = {
    host,
    port,
    db,
    ...(url.username !== '' && { username: decodeURIComponent(url.username) }),
    ...(url.password !== '' && { password: decodeURIComponent(url.password) }),
    ...(url.protocol === 'rediss:' && { tls: {} }),
    // BullMQ's workers block on Redis: a command must wait for the connection, not fail.
    maxRetriesPerRequest: null,
  };
  const auth = url.username !== '' || url.password !== '' ? '***@' : '';
  return {
    connection,
    name,
    display: `${url.protocol}//${auth}${url.host}/${db}/${name}`,
  };
}
