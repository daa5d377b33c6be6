// Runs a loaded scenario (scenario.ts): one machine, the kernel it names with SkyBridge and
// a Linux system-call layer per process that has threads, the processes loaded from their
// ELF images, servers registered with their handlers, clients bound, words set, threads
// started; then the kernel runs until nothing can happen any more. Each thread has an
// instruction budget, so a scenario whose code never stops still ends. What comes back is
// what each process printed and how it ended, the servers and bindings as the kernel and
// the servers' own tables see them afterwards, the kernel's SkyBridge events and the
// counters: the same for the same file on every host.

import { readElfHeader } from '../binary/elf-reader.ts';
import { Mode } from '../hw/counters.ts';
import { Machine } from '../hw/machine.ts';
import { SKYLAKE, type CpuProfile } from '../hw/profile.ts';
import { loadElf } from '../kernel/elf-loader.ts';
import { LinuxAbi } from '../kernel/linux/abi.ts';
import { machineCodeBody } from '../kernel/machine-code.ts';
import type { Process } from '../kernel/process.ts';
import { ThreadState } from '../kernel/thread.ts';
import { pokeUser, resolveUser } from '../kernel/user-memory.ts';
import { buildInitialStack } from './initial-stack.ts';
import { bootKernel } from './kernels.ts';
import { PROGRAM_STACK_BYTES, RUN_KERNELS } from './run-program.ts';
import { formatPath, ScenarioError, type Problem, type ScenarioPlan } from './scenario.ts';
import type {
  Ending,
  ScenarioProcess,
  ScenarioResult,
  ScenarioThread,
  Word,
} from './scenario-schema.ts';
import { newSkyBridge } from './skybridge-setup.ts';

/** Kernel steps per k.run call; the loop goes on while a call uses them all. */
const STEPS = 100_000;
/** Guest memory: room for every process, its stacks and SkyBridge's pages. */
const MEMORY_BYTES = 1024 ** 3;

/** The threads a process starts with: its own list, or main unless it is a server. */
export function threadsOf(p: ScenarioProcess, isServer: boolean): ScenarioThread[] {
  return p.threads ?? (isServer ? [] : [{}]);
}

function le64(v: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

/** Runs `plan`; throws ScenarioError when the kernel refuses something it asks for. */
export function runScenario(plan: ScenarioPlan, o: { profile?: CpuProfile } = {}): ScenarioResult {
  const sc = plan.scenario;
  const problems: Problem[] = [];
  const attempt = (path: PropertyKey[], f: () => void): void => {
    try {
      f();
    } catch (e) {
      problems.push({ path: formatPath(path), message: (e as Error).message });
    }
  };
  const m = new Machine({
    cores: sc.cores,
    memoryBytes: MEMORY_BYTES,
    profile: o.profile ?? SKYLAKE,
  });
  const sb = newSkyBridge(sc.seed);
  const serverNames = new Set(sc.servers.map((s) => s.process));
  const abis = new Map<string, LinuxAbi>();
  for (const p of sc.processes)
    if (threadsOf(p, serverNames.has(p.name)).length > 0)
      abis.set(p.name, new LinuxAbi({ seed: sc.seed, frequencyGHz: m.profile.frequencyGHz }));
  const k = bootKernel(
    RUN_KERNELS[sc.kernel],
    m,
    { tickCycles: sc.tickCycles, kpti: sc.kpti, pcid: sc.pcid },
    [sb, ...abis.values()],
  );
  const image = (name: string) => plan.images.get(name)!;
  const procs = new Map<string, Process>();
  sc.processes.forEach((p, i) =>
    attempt(['processes', i, 'image'], () => {
      const l = loadElf(k, p.name, image(p.name).bytes);
      abis.get(p.name)?.attach(l.process, l.image.end);
      procs.set(p.name, l.process);
    }),
  );
  if (problems.length > 0) throw new ScenarioError(plan.file, problems);

  const ids = new Map<string, number>();
  sc.servers.forEach((s, i) =>
    attempt(['servers', i], () => {
      const { process, handler, ...opts } = s;
      const handlerAt = image(process).symbols.get(handler)!;
      ids.set(process, sb.registerServer(procs.get(process)!, { handler: handlerAt, ...opts }));
    }),
  );
  const word = (w: Word): number => (typeof w === 'number' ? w : (ids.get(w.server) ?? 0));
  // Each binding's caller number at its server, while the view exists (never reused).
  const callers: number[] = [];
  sc.bindings.forEach((b, i) =>
    attempt(['bindings', i], () => {
      const client = procs.get(b.client)!;
      const id = ids.get(b.server);
      if (id === undefined) throw new Error(`server '${b.server}' was not registered`);
      sb.registerClient(m.core(0), client, id, { bufferBytes: b.bufferBytes });
      callers[i] = sb.callerNumber(client, id);
    }),
  );
  sc.processes.forEach((p, i) => {
    const proc = procs.get(p.name)!;
    for (const [symbol, v] of Object.entries(p.set ?? {}))
      attempt(['processes', i, 'set', symbol], () => {
        const at = image(p.name).symbols.get(symbol)!;
        if (resolveUser(k, { process: proc }, at, true) === null)
          throw new Error(`'${symbol}' is not writable data (a global in .data or .bss is)`);
        pokeUser(k, { process: proc }, at, le64(word(v)));
      });
    const argv = [
      p.name,
      ...(p.args ?? []).map((a) => String(typeof a === 'object' ? word(a) : a)),
    ];
    const threads = threadsOf(p, serverNames.has(p.name));
    // Named after the process and entry, numbered where an entry starts more than one.
    const nameOf = (t: ScenarioThread, j: number): string => {
      const entry = t.entry ?? 'main';
      const twice = threads.filter((u) => (u.entry ?? 'main') === entry).length > 1;
      return `${p.name}:${entry}${twice ? `#${j}` : ''}`;
    };
    threads.forEach((t, j) =>
      attempt(['processes', i, 'threads', j], () => {
        const body = machineCodeBody(m, { maxInstructions: sc.maxInstructions });
        const priority = t.priority ?? p.priority;
        const where = { core: t.core ?? p.core ?? 0, ...(priority !== undefined && { priority }) };
        if (t.entry !== undefined) {
          const entry = image(p.name).symbols.get(t.entry)!;
          const args = (t.args ?? []).map(word);
          k.createThread(proc, nameOf(t, j), body, { entry, machineCode: true, args, ...where });
          return;
        }
        // main: argc, argv and the auxiliary vector on its stack, as execve leaves them.
        const top = proc.nextStackTop;
        const stack = buildInitialStack(top, argv, sc.seed, PROGRAM_STACK_BYTES - 4096);
        const th = k.createThread(proc, nameOf(t, j), body, {
          entry: Number(readElfHeader(image(p.name).bytes).entry),
          rsp: stack.rsp,
          machineCode: true,
          stackBytes: PROGRAM_STACK_BYTES,
          ...where,
        });
        pokeUser(k, th, stack.base, stack.bytes);
      }),
    );
  });
  if (problems.length > 0) throw new ScenarioError(plan.file, problems);

  while (k.run(STEPS) === STEPS);

  const snap = m.snapshot();
  const decode = (fd: 1 | 2, abi: LinuxAbi | undefined): string =>
    (abi?.console ?? [])
      .filter((w) => w.fd === fd)
      .map((w) => new TextDecoder().decode(w.bytes))
      .join('');
  return {
    scenario: {
      file: plan.file,
      kernel: RUN_KERNELS[sc.kernel],
      cores: sc.cores,
      tickCycles: sc.tickCycles,
      seed: sc.seed,
      maxInstructions: sc.maxInstructions,
      kpti: sc.kpti,
      pcid: sc.pcid,
    },
    processes: sc.processes.map((p) => {
      const proc = procs.get(p.name)!;
      const abi = abis.get(p.name);
      const user = { owner: proc.owner, mode: Mode.User };
      return {
        name: p.name,
        image: p.image,
        ended: endingOf(proc, abi, serverNames.has(p.name)),
        threads: proc.threads.map((t) => ({
          name: t.name,
          core: t.core.id,
          ended: t.alive ? '' : t.exitReason,
        })),
        stdout: decode(1, abi),
        stderr: decode(2, abi),
        userInstructions: snap.get('instructions', user),
        vmfuncs: snap.get('vmfuncs', user),
        warnings: [...(abi?.warnings ?? [])],
      };
    }),
    servers: sc.servers.map((s) => {
      const server = sb.server(ids.get(s.process)!)!;
      return {
        id: server.id,
        process: s.process,
        handler: s.handler,
        maxConcurrent: server.maxConcurrent,
        budgetTicks: server.budgetTicks,
        lockAfter: server.lockAfter,
        alive: server.alive,
      };
    }),
    bindings: sc.bindings.map((b, i) => {
      const id = ids.get(b.server)!;
      const binding = sb.bindings.find(
        (x) => x.client === procs.get(b.client) && x.server.id === id,
      )!;
      const failed = sb.failures(id, callers[i]!);
      return {
        client: b.client,
        server: b.server,
        serverId: id,
        slot: binding.slot,
        bufferBytes: binding.bufferBytes,
        active: binding.active,
        failedKeyChecks: failed,
        locked: failed >= binding.server.lockAfter,
      };
    }),
    events: sb.events.map((e) => ({ ...e })),
    cycles: Math.max(...m.cores.map((c) => c.cycles)),
    counters: snap.rows().map((r) => ({ name: r.counter, unit: r.unit, value: r.value })),
  };
}

function endingOf(p: Process, abi: LinuxAbi | undefined, isServer: boolean): Ending {
  if (abi?.exitStatus !== null && abi?.exitStatus !== undefined)
    return { kind: 'exited', status: abi.exitStatus };
  if (p.killed) return { kind: 'killed', reason: p.killReason };
  if (p.threads.length === 0) return isServer ? { kind: 'serving' } : { kind: 'idle' };
  if (p.threads.some((t) => t.alive)) return { kind: 'blocked' };
  const t = p.threads.find((x) => x.state === ThreadState.Stopped) ?? p.threads.at(-1)!;
  return { kind: 'stopped', reason: t.exitReason };
}
