/**
 * Two models in one image for real: examples/iris (ONNX) and the course's autolog decision tree
 * (a scikit-learn pickle), registered in one registry, built by the compiled CLI with two -m
 * flags on a local Node base, run with host networking and a read-only root filesystem, and each
 * asked by name. The labels describe both; one request without a name is refused.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../../src/core/registration.js';
import { SETOSA, cleanup, tempDir, waitFor200 } from '../../docker/helpers.js';
import { IRIS, requireBuiltCli, runCli } from '../../fixtures/cli.js';
import { withPickedPort } from '../../fixtures/ports.js';
import { SKLEARN_FIXTURES, expectSame, parsePredictions, readExpected } from '../../sklearn/helpers.js';
import { IN_CI, ensureNodeBase, probeEngine, warnSkipped } from './engine.js';

const engine = await probeEngine();
if (!engine.ok && !IN_CI) warnSkipped(engine, 'test/integration/docker/multi-model.docker.test.ts (two models in one image)');
const docker = engine.docker;

const TREE = join(SKLEARN_FIXTURES, 'iris-tree-autolog-sk12');
const created = { containers: [] as Dockerode.Container[], images: [] as string[] };

afterAll(async () => {
  for (const c of created.containers) await c.remove({ force: true }).catch(() => undefined);
  for (const i of created.images)
    await docker
      .getImage(i)
      .remove({ force: true })
      .catch(() => undefined);
  await cleanup();
});

async function post(port: number, path: string, body: string): Promise<{ status: number; text: string; name: string | null }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, text: await r.text(), name: r.headers.get('x-model-name') };
}

describe.runIf(engine.ok || IN_CI)('an image of two models built by modelgate build-image -m A -m B', () => {
  let base: string;
  let registryUri: string;

  beforeAll(async () => {
    if (!engine.ok) throw new Error(`CI is set but there is no Docker engine at ${engine.where}: ${engine.reason}. .ci/run starts one.`);
    requireBuiltCli();
    base = await ensureNodeBase(docker);
    registryUri = `file:${await tempDir('mg-reg-')}`;
    const registry = openRegistry(registryUri);
    await registry.register(IRIS, { name: 'iris', alias: 'champion' });
    await registry.register(TREE, { name: 'iris-tree' });
  }, 120_000);

  it('serves both by name, with labels describing each', async () => {
    const image = `modelgate-test/two-models:${process.pid}`;
    created.images.push(image);
    const build = await runCli(
      [
        'build-image',
        '-m',
        'models:/iris@champion',
        '-m',
        'models:/iris-tree/1',
        '-n',
        image,
        '--base-image',
        base,
        '--registry',
        registryUri,
      ],
      { timeoutMs: 300_000 },
    );
    expect(build.code, build.stderr).toBe(0);
    expect(build.stderr).toContain('from models:/iris/1 (models:/iris@champion), models:/iris-tree/1 on');

    const info = await docker.getImage(image).inspect();
    const labels = info.Config.Labels ?? {};
    const described = JSON.parse(labels['io.modelgate.models']) as { name: string; uri: string; flavor: string }[];
    expect(described.map((d) => [d.name, d.uri, d.flavor])).toEqual([
      ['iris', 'models:/iris/1', 'onnx'],
      ['iris-tree', 'models:/iris-tree/1', 'sklearn'],
    ]);
    expect(info.Config.Env).toContain(
      `MODELGATE_MODELS=${JSON.stringify([
        { name: 'iris', primary: 'models:/iris/1' },
        { name: 'iris-tree', primary: 'models:/iris-tree/1' },
      ])}`,
    );

    const treeBody = await readFile(join(TREE, 'serving_input_example.json'), 'utf8');
    const answers = await withPickedPort(async (p) => {
      const c = await docker.createContainer({
        Image: image,
        Env: [`MODELGATE_PORT=${p}`],
        HostConfig: { NetworkMode: 'host', ReadonlyRootfs: true },
      });
      created.containers.push(c);
      await c.start();
      const running = async () => (await c.inspect()).State.Running;
      await waitFor200(`http://127.0.0.1:${p}/ready`, 60_000, running).catch(async (err: unknown) => {
        const logs = await c.logs({ stdout: true, stderr: true });
        throw new Error(`${(err as Error).message}\ncontainer logs:\n${logs.toString()}`);
      });
      const out = {
        iris: await post(p, '/models/iris/invocations', SETOSA),
        tree: await post(p, '/models/iris-tree/invocations', treeBody),
        unnamed: await post(p, '/invocations', SETOSA),
      };
      await c.stop({ t: 5 });
      return out;
    });
    expect(answers.iris.status, answers.iris.text).toBe(200);
    expect(answers.iris.name).toBe('iris');
    expect((JSON.parse(answers.iris.text) as { predictions: { label: number[] } }).predictions.label).toEqual([0]);
    expect(answers.tree.status, answers.tree.text).toBe(200);
    expect(answers.tree.name).toBe('iris-tree');
    const expected = await readExpected(TREE);
    const rows = (JSON.parse(treeBody) as { dataframe_split: { data: unknown[][] } }).dataframe_split.data;
    const at = rows.map((row) => expected.data.findIndex((r) => JSON.stringify(r) === JSON.stringify(row)));
    expect(at.every((i) => i >= 0)).toBe(true);
    expectSame(
      parsePredictions(answers.tree.text),
      at.map((i) => expected.predict[i]),
    );
    expect(answers.unnamed.status).toBe(400);
    console.log(`two-model image: ${(info.Size / 1e6).toFixed(1)} MB`);
  }, 360_000);
});
