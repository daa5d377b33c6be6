// Loads a scenario file (`skybridge run SCENARIO.yaml`): YAML, checked against the schema
// (scenario-schema.ts) and then against itself (names that refer to nothing, a binding to a
// process that is no server, a symbol its image lacks), with every problem collected, each
// with its path, so one run of the command lists them all. The checks of references read
// the raw document and skip what the schema already reports, so both kinds come at once.
// Images are read (or built, for guest:NAME) here too: a symbol can only be checked in one.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { GUESTS } from '../../guest/build.mjs';
import { readElf } from '../binary/elf-reader.ts';
import { planElf } from '../kernel/elf-loader.ts';
import { guestImage } from './guest-image.ts';
import { scenarioSchema, type Scenario } from './scenario-schema.ts';
import { FileProblemsError } from './file-problems.ts';

import type { Problem } from './file-problems.ts';
export type { Problem };

/** A scenario that cannot run as written: every problem found, for one message. */
export class ScenarioError extends FileProblemsError {
  override name = 'ScenarioError';
}

export interface Image {
  /** As the scenario names it (a path or guest:NAME). */
  label: string;
  bytes: Uint8Array;
  symbols: ReadonlyMap<string, number>;
}

export interface ScenarioPlan {
  file: string;
  scenario: Scenario;
  /** Each process's image, by process name. */
  images: ReadonlyMap<string, Image>;
}

/** Files that hold a scenario rather than a program (`skybridge run` decides by this). */
export function isScenarioFile(path: string): boolean {
  return /\.ya?ml$/i.test(path);
}

export function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const k of path) s += typeof k === 'number' ? `[${k}]` : `${s ? '.' : ''}${String(k)}`;
  return s;
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const text = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const quoted = (names: Iterable<string>): string => [...names].map((n) => `'${n}'`).join(', ');

/** Reads, parses and checks `file`; throws ScenarioError listing every problem. */
export function loadScenario(file: string): ScenarioPlan {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioError(file, [{ path: '', message: `cannot read it: ${reason(e)}` }]);
  }
  const doc = parseDocument(source);
  if (doc.errors.length > 0)
    throw new ScenarioError(
      file,
      doc.errors.map((e) => ({
        path: '',
        message: `not valid YAML: ${e.message.split('\n')[0]!.replace(/:$/, '')}`,
      })),
    );
  const raw: unknown = doc.toJS();
  const parsed = scenarioSchema.safeParse(raw);
  const found: Found[] = [];
  for (const i of parsed.success ? [] : parsed.error.issues) {
    if (i.code === 'unrecognized_keys')
      for (const key of i.keys) found.push({ at: [...i.path, key], message: 'unknown field' });
    else found.push({ at: i.path, message: i.message });
  }
  const images = checkReferences(raw, dirname(file), found);
  if (!parsed.success || found.length > 0) throw new ScenarioError(file, inOrder(found));
  return { file, scenario: parsed.data, images };
}

interface Found {
  at: readonly PropertyKey[];
  message: string;
}

/** Problems in the order of the document's sections and items (stable within one item). */
function inOrder(found: readonly Found[]): Problem[] {
  const sections = Object.keys(scenarioSchema.shape);
  const rank = (f: Found): [number, number] => {
    const s = sections.indexOf(String(f.at[0]));
    return [s < 0 ? sections.length : s, typeof f.at[1] === 'number' ? f.at[1] : -1];
  };
  return found
    .map((f, n) => ({ f, n, r: rank(f) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.n - b.n)
    .map(({ f }) => ({ path: formatPath(f.at), message: f.message }));
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EISDIR') return 'a directory, not a file';
  return err instanceof Error ? err.message : String(e);
}

/** The checks a schema cannot make: names, cores, symbols. Adds to `problems`. */
function checkReferences(raw: unknown, dir: string, found: Found[]): Map<string, Image> {
  const images = new Map<string, Image>();
  if (!isObj(raw)) return images;
  const add = (at: readonly PropertyKey[], message: string): void => {
    found.push({ at, message });
  };
  const processes = list(raw.processes);
  const servers = list(raw.servers);
  const cores = Number.isInteger(raw.cores) ? (raw.cores as number) : raw.cores ? 0 : 1;

  // Process names, then which of them are servers.
  const byName = new Map<string, number>();
  processes.forEach((p, i) => {
    const name = isObj(p) ? text(p.name) : undefined;
    if (name === undefined) return;
    const first = byName.get(name);
    if (first !== undefined)
      add(['processes', i, 'name'], `'${name}' is the name of processes[${first}] already`);
    else byName.set(name, i);
  });
  const serverOf = new Map<string, number>();
  servers.forEach((s, i) => {
    const name = isObj(s) ? text(s.process) : undefined;
    if (name === undefined) return;
    if (!byName.has(name)) add(['servers', i, 'process'], `no process named '${name}'`);
    else if (serverOf.has(name))
      add(['servers', i, 'process'], `'${name}' is servers[${serverOf.get(name)}] already`);
    else serverOf.set(name, i);
  });
  const notServer = (name: string): string =>
    serverOf.size === 0
      ? `'${name}' is not a server (the scenario has no servers)`
      : `'${name}' is not a server (servers: ${quoted(serverOf.keys())})`;
  /** A word or argument: `{ server: NAME }` must name a server. */
  const ref = (v: unknown, path: PropertyKey[]): void => {
    const name = isObj(v) ? text(v.server) : undefined;
    if (name !== undefined && !serverOf.has(name)) add([...path, 'server'], notServer(name));
  };
  const core = (v: unknown, path: PropertyKey[]): void => {
    if (Number.isInteger(v) && cores > 0 && (v as number) >= cores)
      add(path, `core ${v as number} does not exist (cores: ${cores})`);
  };

  // Each process: its image, its threads, the words it sets.
  const loaded = new Map<string, Image | null>();
  processes.forEach((p, i) => {
    if (!isObj(p)) return;
    const at = ['processes', i];
    list(p.args).forEach((a, j) => ref(a, [...at, 'args', j]));
    core(p.core, [...at, 'core']);
    const label = text(p.image);
    let image: Image | null = null;
    if (label !== undefined) {
      const key = label.startsWith('guest:') ? label : resolve(dir, label);
      if (!loaded.has(key)) {
        try {
          loaded.set(key, readImage(label, key));
        } catch (e) {
          loaded.set(key, null);
          add([...at, 'image'], reason(e));
        }
      }
      image = loaded.get(key) ?? null;
      const name = text(p.name);
      if (image !== null && name !== undefined && byName.get(name) === i) images.set(name, image);
    }
    const symbol = (name: unknown, path: PropertyKey[], what: string): void => {
      if (image === null || typeof name !== 'string' || image.symbols.has(name)) return;
      add(path, `no symbol '${name}' in ${image.label} (${what} must be a global symbol)`);
    };
    let mains = 0;
    list(p.threads).forEach((t, j) => {
      if (!isObj(t)) return;
      const tat = [...at, 'threads', j];
      core(t.core, [...tat, 'core']);
      list(t.args).forEach((a, k) => ref(a, [...tat, 'args', k]));
      if (t.entry === undefined) {
        if (++mains === 2)
          add(tat, "a second thread running main: give one of them an 'entry' function");
        if (t.args !== undefined)
          add([...tat, 'args'], "main gets the process's args; 'args' here are for an 'entry'");
      } else symbol(t.entry, [...tat, 'entry'], 'an entry');
    });
    if (isObj(p.set))
      for (const [name, v] of Object.entries(p.set)) {
        symbol(name, [...at, 'set', name], 'a word to set');
        ref(v, [...at, 'set', name]);
      }
  });

  servers.forEach((s, i) => {
    if (!isObj(s)) return;
    const name = text(s.process);
    const image = name === undefined ? undefined : images.get(name);
    const handler = text(s.handler);
    if (image !== undefined && handler !== undefined && !image.symbols.has(handler))
      add(
        ['servers', i, 'handler'],
        `no symbol '${handler}' in ${image.label} (a handler must be a global function)`,
      );
  });

  const pairs = new Map<string, number>();
  list(raw.bindings).forEach((b, i) => {
    if (!isObj(b)) return;
    const client = text(b.client);
    const server = text(b.server);
    if (client !== undefined && !byName.has(client))
      add(['bindings', i, 'client'], `no process named '${client}'`);
    if (server !== undefined && !byName.has(server))
      add(['bindings', i, 'server'], `no process named '${server}'`);
    else if (server !== undefined && !serverOf.has(server))
      add(['bindings', i, 'server'], notServer(server));
    if (client === undefined || server === undefined) return;
    if (client === server) add(['bindings', i], `'${client}' cannot bind to itself`);
    const pair = `${client}\0${server}`;
    const first = pairs.get(pair);
    if (first !== undefined)
      add(['bindings', i], `'${client}' is bound to '${server}' in bindings[${first}] already`);
    else pairs.set(pair, i);
  });
  return images;
}

/** Whichever programs a scenario may name as guest:NAME (the trampoline is not one). */
const GUEST_NAMES = GUESTS.filter((g) => g.name !== 'sb-trampoline').map((g) => g.name);

/** An image as the scenario names it; `key` is guest:NAME or the resolved path. */
function readImage(label: string, key: string): Image {
  if (label.startsWith('guest:')) {
    const name = label.slice('guest:'.length);
    if (!GUEST_NAMES.includes(name))
      throw new Error(`no built-in guest program '${name}' (see guest/build.mjs's GUESTS)`);
    const g = guestImage(name);
    return { label, bytes: g.bytes, symbols: g.symbols };
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(key));
  } catch (e) {
    throw new Error(`cannot read ${key}: ${reason(e)}`);
  }
  try {
    planElf(bytes);
    const symbols = new Map(readElf(bytes).symbols.map((s) => [s.name, Number(s.value)]));
    return { label, bytes, symbols };
  } catch (e) {
    throw new Error(`${label}: cannot load it: ${(e as Error).message}`);
  }
}
