/**
 * Servers under test, each in its own process (the load generator runs in the bench process), with
 * their CPU time read from /proc so a figure per request can be compared across noisy runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');
export const BASELINE = join(ROOT, 'dist', 'bench', 'baseline-server.js');

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** User + system CPU seconds the process has used so far (Linux /proc). */
  cpuSeconds(): number;
  /** Resident set size in bytes. */
  rssBytes(): number;
  stop(): Promise<void>;
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
    await new Promise((r) => setTimeout(r, 50));
  }
}

function procStat(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

function wrap(name: string, child: ChildProcess, url: string): ServerProcess {
  const pid = child.pid as number;
  const ticks = 100; // USER_HZ on Linux
  return {
    name,
    url,
    child,
    cpuSeconds: () => {
      const f = procStat(pid);
      return (Number(f[11]) + Number(f[12])) / ticks;
    },
    rssBytes: () => Number(procStat(pid)[21]) * 4096,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

export async function startModelgate(modelUri: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve', '-m', modelUri, '-p', String(port), '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/ready`, child, 60_000);
  return wrap('modelgate', child, base);
}

export async function startBaseline(modelPath: string): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [BASELINE, modelPath, String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  // The baseline has no health route: any answer (even 404 or 500) means it listens.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(`${base}/`, { method: 'POST', body: '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}', signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('baseline did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return wrap('baseline', child, base);
}
