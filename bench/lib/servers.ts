/**
 * Servers under test, each in its own process (the load generator runs in the bench process), with
 * their CPU time and resident memory read from /proc. Both are summed over the server's whole
 * process tree, so `modelgate serve --workers N` (a primary and N forked workers) is measured as
 * one server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The checkout: three levels up from dist/bench/lib, two from bench/lib (a test importing the sources). */
export const ROOT = join(HERE, ...(basename(dirname(dirname(HERE))) === 'dist' ? ['..', '..', '..'] : ['..', '..']));
export const CLI = join(ROOT, 'dist', 'modelgate.mjs');

/** One bare node:http baseline per runtime: bench/baselines/<kind>.ts. */
export type BaselineKind = 'onnx' | 'tfjs' | 'compiled';
const baselineScript = (kind: BaselineKind) => join(ROOT, 'dist', 'bench', 'baselines', `${kind}.js`);

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** User + system CPU seconds the process tree has used so far (Linux /proc). */
  cpuSeconds(): number;
  /** Resident set size of the process tree in bytes. */
  rssBytes(): number;
  stop(): Promise<void>;
}

/** A server process just spawned, not yet known to answer. */
export interface Spawned {
  readonly child: ChildProcess;
  readonly url: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before ${url} answered`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** One POST on a fresh connection (no keep-alive: nothing carried between polls); the status, or 0 if it failed. */
export function postStatus(url: string, body: string, contentType = 'application/json', timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': contentType }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/**
 * Milliseconds from `spawn` to the first 200 from POST `path` with `body`, polling every
 * `intervalMs`: what a caller waiting for a fresh replica sees.
 */
export async function timeToFirstAnswer(
  start: (port: number) => Promise<Spawned>,
  path: string,
  body: string,
  contentType = 'application/json',
  { intervalMs = 5, timeoutMs = 60_000 } = {},
): Promise<{ ms: number; spawned: Spawned }> {
  // The port is chosen before the clock starts: finding one is the harness's work, not the server's.
  const port = await freePort();
  const t0 = performance.now();
  const spawned = await start(port);
  for (;;) {
    if ((await postStatus(spawned.url + path, body, contentType)) === 200) return { ms: performance.now() - t0, spawned };
    if (spawned.child.exitCode !== null) throw new Error(`server exited with code ${spawned.child.exitCode} before answering`);
    if (performance.now() - t0 > timeoutMs) throw new Error(`${spawned.url}${path} did not answer 200 within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

function procStat(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state, ppid, …; comm may hold spaces or parentheses.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** `root` and all its descendants, from every process's parent in /proc. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let ppid: number;
    try {
      ppid = Number(procStat(Number(entry))[1]);
    } catch {
      continue; // exited while we looked
    }
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [Number(entry)]);
    else list.push(Number(entry));
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** A process's start time in clock ticks since boot, or undefined once it has gone (or is a zombie). */
function startTime(pid: number): string | undefined {
  try {
    const f = procStat(pid);
    return f[0] === 'Z' ? undefined : f[19];
  } catch {
    return undefined;
  }
}

function sumOverTree(root: number, field: (stat: string[]) => number): number {
  let total = 0;
  for (const pid of processTree(root)) {
    try {
      total += field(procStat(pid));
    } catch {
      // exited while we looked
    }
  }
  return total;
}

const TICKS = 100; // USER_HZ on Linux
const PAGE = 4096;

export function wrap(name: string, { child, url }: Spawned): ServerProcess {
  const pid = child.pid as number;
  return {
    name,
    url,
    child,
    cpuSeconds: () => sumOverTree(pid, (f) => Number(f[11]) + Number(f[12])) / TICKS,
    rssBytes: () => sumOverTree(pid, (f) => Number(f[21])) * PAGE,
    stop: async () => {
      // Forked workers are remembered (with their start times, against pid reuse) so that none
      // outlives a primary that failed to stop them.
      const tree = child.exitCode === null ? processTree(pid).map((p) => ({ p, start: startTime(p) })) : [];
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      });
      for (let i = 0; i < 40 && tree.some(({ p, start }) => startTime(p) === start); i++) await sleep(50);
      for (const { p, start } of tree) {
        if (p === pid || startTime(p) !== start) continue;
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    },
  };
}

export async function spawnModelgate(
  modelUri: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  port?: number,
  cli = CLI,
): Promise<Spawned> {
  port ??= await freePort();
  const child = spawn(process.execPath, [cli, 'serve', '-m', modelUri, '-p', String(port), '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

export async function spawnBaseline(kind: BaselineKind, model: string, port?: number): Promise<Spawned> {
  port ??= await freePort();
  const child = spawn(process.execPath, [baselineScript(kind), model, String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { child, url: `http://127.0.0.1:${port}` };
}

export async function startModelgate(
  modelUri: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  name = 'modelgate',
  cli = CLI,
): Promise<ServerProcess> {
  const spawned = await spawnModelgate(modelUri, args, env, undefined, cli);
  await waitFor(`${spawned.url}/ready`, spawned.child, 60_000);
  return wrap(name, spawned);
}

export async function startBaseline(kind: BaselineKind, model: string, name = 'baseline'): Promise<ServerProcess> {
  const spawned = await spawnBaseline(kind, model);
  // The baseline has no health route: any answer (even the 500 for an empty body) means it listens.
  const deadline = Date.now() + 30_000;
  while ((await postStatus(spawned.url, '', 'application/json', 1000)) === 0) {
    if (Date.now() > deadline || spawned.child.exitCode !== null) throw new Error(`the ${kind} baseline did not start`);
    await sleep(50);
  }
  return wrap(name, spawned);
}
