/**
 * A bare TF.js directory through the compiled CLI (dist/src/cli.js; `npm run build` first):
 * `registry register` recognises model.json and writes the MLmodel, and `serve` answers on the
 * wasm backend, saying so in its log and in /metrics.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRIS_LAYERS, denseForward, writeIrisLayersModel } from '../../tools/tfjs/models.js';

const CLI = fileURLToPath(new URL('../../dist/modelgate.mjs', import.meta.url));
const run = promisify(execFile);

let work: string;
let registry: string;
let server: ChildProcess | undefined;

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(e)) if (k.startsWith('MODELGATE_')) delete e[k];
  return e;
}

const mgr = (args: string[]) => run(process.execPath, [CLI, ...args, '--registry', registry], { env: env(), timeout: 60_000 });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'modelgate-tfjs-cli-'));
  registry = join(work, 'registry');
  await writeIrisLayersModel(join(work, 'tfjs_model'), { shardBytes: 100 });
});

afterAll(async () => {
  if (server?.exitCode === null) server.kill('SIGKILL');
  await rm(work, { recursive: true, force: true });
});

describe('modelgate with a bare TF.js model directory', () => {
  it('registry register ./tfjs_model --name x recognises it and writes its MLmodel', async () => {
    const reg = await run(process.execPath, [CLI, 'registry', 'register', './tfjs_model', '--name', 'x', '--registry', registry], {
      cwd: work,
      env: env(),
    });
    expect(reg.stdout).toBe('1\n');
    const show = JSON.parse((await mgr(['registry', 'show', 'models:/x/1'])).stdout) as { flavor: string; files: { path: string }[] };
    expect(show.flavor).toBe('tfjs');
    expect(show.files.map((f) => f.path).sort()).toEqual([
      'MLmodel',
      'group1-shard1of3.bin',
      'group1-shard2of3.bin',
      'group1-shard3of3.bin',
      'model.json',
    ]);
  });

  it('serve answers on the wasm backend, logged and in /metrics', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'serve', '-m', 'models:/x/1', '-p', String(port), '--registry', registry], {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not become ready:\n${stdout}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.3, 3.3, 6.0, 2.5],
    ];
    const res = await fetch(`${base}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: rows }),
    });
    expect(res.status).toBe(200);
    const { predictions } = (await res.json()) as { predictions: number[][] };
    const want = denseForward(IRIS_LAYERS, rows.flat(), 2);
    predictions.flat().forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/modelgate_model_info\{[^}]*flavor="tfjs"[^}]*runtime="tfjs-wasm"[^}]*\} 1/);
    const lines = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'TF.js backend ready')).toMatchObject({ backend: 'wasm' });
    expect(lines.find((l) => l.msg === 'model loaded')).toMatchObject({ flavor: 'tfjs', backend: 'wasm' });

    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  });
});
