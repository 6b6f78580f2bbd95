/**
 * The README's first command: `modelgate demo` registers the bundled iris model on first run and
 * serves it; the README's curl line gets a setosa prediction; a second run reuses the registry.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');

interface Demo {
  child: ChildProcess;
  port: number;
  base: string;
  out: { stdout: string; stderr: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
let work: string;
let registryDir: string;

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startDemo(): Promise<Demo> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MODELGATE_')) delete env[k];
  const child = spawn(process.execPath, [CLI, 'demo', '--registry', registryDir, '-p', String(port)], {
    cwd: work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('close', (code, signal) => {
      children.delete(child);
      res({ code, signal });
    }),
  );
  const demo: Demo = { child, port, base: `http://127.0.0.1:${port}`, out, exited };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`demo exited early\n${out.stdout}\n${out.stderr}`);
    if (Date.now() > deadline) throw new Error(`demo was not ready in 30 s\n${out.stdout}\n${out.stderr}`);
    const status = await fetch(`${demo.base}/ready`).then(
      async (r) => (await r.arrayBuffer(), r.status),
      () => 0,
    );
    if (status === 200) return demo;
    await sleep(50);
  }
}

/** The README line: curl -s -X POST http://127.0.0.1:PORT/invocations -H 'Content-Type: application/json' -d '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}' */
const readmeCurl = (base: string) =>
  fetch(`${base}/invocations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
  });

async function stop(d: Demo): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  d.child.kill('SIGTERM');
  return d.exited;
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' before these tests`);
  work = await mkdtemp(join(tmpdir(), 'modelgate-demo-'));
  registryDir = join(work, 'registry');
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (work) await rm(work, { recursive: true, force: true });
});

describe('modelgate demo', () => {
  it('first run registers the bundled model as iris version 1 (alias champion) and serves it', async () => {
    const d = await startDemo();
    try {
      expect(d.out.stderr).toContain(`registered the demo model as models:/iris/1 (alias champion) in ${registryDir}`);
      // It tells the user what to run, with the port it listens on.
      expect(d.out.stderr).toContain(
        `curl -s -X POST http://127.0.0.1:${d.port}/invocations -H 'Content-Type: application/json' -d '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'`,
      );

      const res = await readmeCurl(d.base);
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect(res.headers.get('x-model-name')).toBe('iris');
      expect(res.headers.get('x-model-version')).toBe('1');
      const body = JSON.parse(text);
      expect(body.predictions.label).toEqual([0]);
      expect(body.predictions.probabilities[0]).toHaveLength(3);
      expect(body.predictions.probabilities[0][0]).toBeGreaterThan(0.99);

      const ready = await (await fetch(`${d.base}/ready`)).json();
      expect(ready).toMatchObject({ ready: true, models: [{ name: 'iris', version: '1', flavor: 'onnx' }] });
    } finally {
      expect(await stop(d)).toEqual({ code: 0, signal: null });
    }
    expect(await readdir(join(registryDir, 'models', 'iris', 'versions'))).toEqual(['1']);
    expect(await readdir(join(registryDir, 'models', 'iris', 'aliases'))).toEqual(['champion']);
  });

  it('a second run reuses the registry without registering again', async () => {
    const d = await startDemo();
    try {
      expect(d.out.stderr).not.toContain('registered the demo model');
      expect(d.out.stderr).toContain('serving models:/iris@champion');
      const res = await readmeCurl(d.base);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-model-version')).toBe('1');
      expect(((await res.json()) as { predictions: { label: number[] } }).predictions.label).toEqual([0]);
    } finally {
      expect(await stop(d)).toEqual({ code: 0, signal: null });
    }
    expect(await readdir(join(registryDir, 'models', 'iris', 'versions'))).toEqual(['1']);
    expect(await readdir(join(registryDir, 'staging'))).toEqual([]);
  });
});
