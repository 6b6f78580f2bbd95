/**
 * The inference log's thread when it misbehaves: real worker threads running stand-in scripts
 * (the real script is compiled only in dist/, and the e2e suite runs the log through it). A
 * thread that dies costs the records it held, counted, and another one starts; one that does not
 * answer `close` costs its records too, and close() still returns.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DropReason } from '../../src/monitor/log/queue.js';
import type { LogEntry } from '../../src/monitor/log/record.js';
import { LogThread } from '../../src/monitor/log/thread.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgate-log-thread-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function script(name: string, source: string): Promise<URL> {
  const path = join(dir, name);
  await writeFile(path, `import { parentPort } from 'node:worker_threads';\n${source}`);
  return pathToFileURL(path);
}

const entry = (id: string): LogEntry => ({
  id,
  time: Date.now(),
  model: 'iris',
  version: '1',
  route: 'primary',
  latencyMs: 1,
  status: 200,
  input: { kind: 'tensor', value: { dtype: 'float32', shape: [1, 4], data: new Float32Array([5.1, 3.5, 1.4, 0.2]) } },
});

function hooks() {
  const drops: { sink: number; reason: DropReason; n: number }[] = [];
  const warnings: string[] = [];
  return {
    drops,
    warnings,
    dropped: (reason: DropReason) => drops.filter((d) => d.reason === reason).reduce((n, d) => n + d.n, 0),
    onDrop: (sink: number, reason: DropReason, n: number) => void drops.push({ sink, reason, n }),
    onError: (_sink: string, message: string) => void warnings.push(message),
  };
}

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the log thread', () => {
  it('that dies: its entries are counted lost for every sink, and another thread starts', async () => {
    const url = await script(
      'dies.mjs',
      "parentPort.postMessage({ type: 'warn', sink: 'file', message: 'started' });\nparentPort.on('message', () => { throw new Error('boom'); });",
    );
    const h = hooks();
    const log = new LogThread(url, { dir: '/nowhere' }, 2, h);
    try {
      log.write([entry('a'), entry('b'), entry('c')]);
      await until(() => h.dropped('sink_error') === 6);
      expect(h.drops.map((d) => d.sink).sort()).toEqual([0, 1]);
      // Entries written while no thread runs are dropped and counted, not queued without bound.
      log.write([entry('d')]);
      expect(h.dropped('sink_error')).toBe(8);
      await until(() => h.warnings.filter((w) => w === 'started').length === 2);
      expect(log.status().map((s) => s.queued)).toEqual([0, 0]);
    } finally {
      await log.close(500);
    }
  });

  it('that does not answer close: close returns after its timeout and counts what it held', async () => {
    const url = await script('deaf.mjs', "parentPort.on('message', () => {});");
    const h = hooks();
    const log = new LogThread(url, { dir: '/nowhere' }, 1, h);
    log.write([entry('a'), entry('b')]);
    const started = Date.now();
    await log.close(300);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(h.dropped('shutdown')).toBe(2);
    log.write([entry('late')]);
    expect(h.dropped('shutdown')).toBe(3);
  });

  it('bounds what is in flight: past the queue capacity, entries are dropped here', async () => {
    // Takes nothing: every entry posted stays in flight.
    const url = await script('slow.mjs', "parentPort.on('message', () => {});");
    const h = hooks();
    const log = new LogThread(url, { dir: '/nowhere', queue: { capacity: 5 } }, 1, h);
    try {
      for (let i = 0; i < 8; i++) log.write([entry(`e${i}`)]);
      expect(h.dropped('queue_full')).toBe(3);
    } finally {
      await log.close(200);
    }
  });
});
