/**
 * A bare TF.js directory through the CLI bundle (dist/modelgate.mjs; `npm run build` first):
 * `registry register` recognises model.json and writes the MLmodel, and `serve` answers on the
 * wasm backend, saying so in its log and in /metrics.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRIS_LAYERS, denseForward, writeIrisLayersModel } from '../../tools/tfjs/models.js';
import { killAll, requireBuiltCli, runCli, startCliServer, stop, waitReady } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temp = tempDirs('modelgate-tfjs-cli-');
let work: string;
let registry: string;

const mgr = (args: string[]) => runCli([...args, '--registry', registry], { timeoutMs: 60_000 });

beforeAll(async () => {
  requireBuiltCli();
  work = await temp.make();
  registry = join(work, 'registry');
  await writeIrisLayersModel(join(work, 'tfjs_model'), { shardBytes: 100 });
});

afterAll(async () => {
  killAll();
  await temp.removeAll();
});

describe('modelgate with a bare TF.js model directory', () => {
  it('registry register ./tfjs_model --name x recognises it and writes its MLmodel', async () => {
    const reg = await runCli(['registry', 'register', './tfjs_model', '--name', 'x', '--registry', registry], {
      cwd: work,
      timeoutMs: 60_000,
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
    const server = startCliServer(['serve', '-m', 'models:/x/1', '-p', '0', '--registry', registry]);
    await waitReady(server);
    const base = server.base;
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
    const lines = server
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'TF.js backend ready')).toMatchObject({ backend: 'wasm' });
    expect(lines.find((l) => l.msg === 'model loaded')).toMatchObject({ flavor: 'tfjs', backend: 'wasm' });

    await stop(server);
  });
});
