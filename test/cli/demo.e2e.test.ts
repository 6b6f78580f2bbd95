/**
 * The README's first command: `modelgate demo` registers the bundled iris model on first run and
 * serves it; the README's curl line gets a setosa prediction; a second run reuses the registry.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Served, killAll, requireBuiltCli, startCliServer, stop, waitReady } from '../fixtures/cli.js';

let work: string;
let registryDir: string;

interface Demo extends Served {
  port: number;
  out: { stderr: string };
}

async function startDemo(): Promise<Demo> {
  const s = startCliServer(['demo', '--registry', registryDir, '-p', '0'], { cwd: work });
  await waitReady(s);
  return {
    ...s,
    port: Number(new URL(s.base).port),
    out: {
      get stderr() {
        return s.output();
      },
    },
  };
}

/** The README line: curl -s -X POST http://127.0.0.1:PORT/invocations -H 'Content-Type: application/json' -d '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}' */
const readmeCurl = (base: string) =>
  fetch(`${base}/invocations`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
  });

beforeAll(async () => {
  requireBuiltCli();
  work = await mkdtemp(join(tmpdir(), 'modelgate-demo-'));
  registryDir = join(work, 'registry');
});

afterAll(async () => {
  killAll();
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
      expect(await stop(d)).toMatchObject({ code: 0, signal: null });
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
      expect(await stop(d)).toMatchObject({ code: 0, signal: null });
    }
    expect(await readdir(join(registryDir, 'models', 'iris', 'versions'))).toEqual(['1']);
    expect(await readdir(join(registryDir, 'staging'))).toEqual([]);
  });
});
