/**
 * Shared by the image tests (with and without a daemon): a temp registry with the iris model
 * registered, child processes, free ports, and polling an HTTP endpoint with timeouts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRegistry, type Registry } from '../../src/registry/registry.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const IRIS = join(ROOT, 'examples', 'iris');
export const CLI = join(ROOT, 'dist', 'modelgate.mjs');
export const SETOSA = '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}';

export function requireBuiltCli(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' before these tests (the image is made from dist/)`);
}

const dirs: string[] = [];
const children = new Set<ChildProcess>();

export async function tempDir(prefix = 'mg-image-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export async function cleanup(): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** A fresh registry holding examples/iris as version 1 of `name`, alias `champion`. */
export async function irisRegistry(name = 'iris'): Promise<{ uri: string; registry: Registry; dir: string }> {
  const dir = await tempDir('mg-reg-');
  const uri = `file:${dir}`;
  const registry = openRegistry(uri);
  await registry.register(IRIS, { name, alias: 'champion' });
  return { uri, registry, dir };
}

export interface Proc {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Starts a process with a clean MODELGATE_* environment plus `env`; killed after `timeoutMs`. */
export function start(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000, cwd?: string): Proc {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('MODELGATE_') || k === 'NODE_PATH') delete base[k];
  const child = spawn(cmd, args, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd });
  children.add(child);
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`timed out after ${timeoutMs} ms: ${cmd} ${args.join(' ')}\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      res({ code, signal, ...out });
    });
  });
  return { child, out, done };
}

/** Runs the compiled CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000) {
  return start(process.execPath, [CLI, ...args], env, timeoutMs).done;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `url` until it answers 200 (each try bounded), or throws after `timeoutMs`. */
export async function waitFor200(url: string, timeoutMs = 30_000, alive: () => boolean = () => true): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (!alive()) throw new Error(`the server exited before ${url} answered 200 (last: ${last})`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return;
      last = `${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}

export async function invoke(port: number, body = SETOSA): Promise<{ status: number; json: unknown; headers: Headers }> {
  const r = await fetch(`http://127.0.0.1:${port}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, json: await r.json(), headers: r.headers };
}
