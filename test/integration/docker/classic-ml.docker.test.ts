/**
 * scikit-learn and XGBoost models through build-image for real: the course's autolog decision
 * tree, a census-style pipeline (imputers, scaler, one-hot, random forest, string labels) and an
 * XGBoost booster, each registered as MLflow wrote it, built into an image on a local Node base by
 * the compiled CLI, run with host networking and a read-only root filesystem, and asked for its
 * serving example. The images hold no Python: the pickle is compiled to ONNX-ML inside the
 * container, by the same onnxruntime the ONNX images carry.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../../../src/core/registration.js';
import { cleanup, tempDir, waitFor200 } from '../../docker/helpers.js';
import { requireBuiltCli, runCli } from '../../fixtures/cli.js';
import { withPickedPort } from '../../fixtures/ports.js';
import { SKLEARN_FIXTURES, expectSame, parsePredictions, readExpected } from '../../sklearn/helpers.js';
import { IN_CI, ensureNodeBase, probeEngine, warnSkipped } from './engine.js';

const engine = await probeEngine();
if (!engine.ok && !IN_CI) warnSkipped(engine, 'test/integration/docker/classic-ml.docker.test.ts (scikit-learn and XGBoost images)');
const docker = engine.docker;

/** What MLflow 3.11 answered for this directory's serving example, when it was recorded. */
const MLFLOW_RESPONSE = 'mlflow-response.json';
const MODELS = [
  { name: 'iris-tree', dir: join(SKLEARN_FIXTURES, 'iris-tree-autolog-sk12'), mlflow: false },
  { name: 'census', dir: join(SKLEARN_FIXTURES, 'census-rf-sk19'), mlflow: false },
  { name: 'wine-xgb', dir: join(SKLEARN_FIXTURES, '..', 'mlflow-classic', 'wine-xgboost'), mlflow: true },
];

/** The library's own answers (expected.json) for the serving example's rows. */
async function libraryAnswers(dir: string, body: string): Promise<unknown[]> {
  const expected = await readExpected(dir);
  const rows = (JSON.parse(body) as { dataframe_split: { data: unknown[][] } }).dataframe_split.data;
  const at = rows.map((row) => expected.data.findIndex((r) => JSON.stringify(r) === JSON.stringify(row)));
  expect(at.every((i) => i >= 0)).toBe(true);
  return at.map((i) => expected.predict[i]);
}
/** The iris ONNX image's bound (image.docker.test.ts): a compiled pickle needs nothing more. */
const MAX_TOTAL_ON_MINIMAL_BASE = 180e6;

const created = { containers: [] as Dockerode.Container[], images: [] as string[] };

afterAll(async () => {
  for (const c of created.containers) await c.remove({ force: true }).catch(() => undefined);
  for (const i of created.images.reverse())
    await docker
      .getImage(i)
      .remove({ force: true })
      .catch(() => undefined);
  await cleanup();
});

/** Every path in the container's filesystem. */
async function containerPaths(c: Dockerode.Container): Promise<string[]> {
  const paths: string[] = [];
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    paths.push(header.name);
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((res, rej) => {
    ex.on('finish', res);
    ex.on('error', rej);
  });
  (await c.export()).pipe(ex);
  await done;
  return paths;
}

describe.runIf(engine.ok || IN_CI)('classic ML models in images built by modelgate build-image', () => {
  let base: string;
  let registryUri: string;

  beforeAll(async () => {
    if (!engine.ok) throw new Error(`CI is set but there is no Docker engine at ${engine.where}: ${engine.reason}. .ci/run starts one.`);
    requireBuiltCli();
    base = await ensureNodeBase(docker);
    registryUri = `file:${await tempDir('mg-reg-')}`;
    const registry = openRegistry(registryUri);
    for (const m of MODELS) await registry.register(m.dir, { name: m.name, alias: 'champion' });
  }, 120_000);

  for (const m of MODELS) {
    it(`${m.name}: builds a slim image without Python that answers its serving example as MLflow would`, async () => {
      const image = `modelgate-test/${m.name}:${process.pid}`;
      created.images.push(image);
      const build = await runCli(
        ['build-image', '-m', `models:/${m.name}@champion`, '-n', image, '--base-image', base, '--registry', registryUri],
        {
          timeoutMs: 300_000,
        },
      );
      expect(build.code, build.stderr).toBe(0);
      const info = await docker.getImage(image).inspect();
      expect(info.Size).toBeLessThanOrEqual(MAX_TOTAL_ON_MINIMAL_BASE);

      const body = await readFile(join(m.dir, 'serving_input_example.json'), 'utf8');
      const { container, text, status } = await withPickedPort(async (p) => {
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
        const res = await fetch(`http://127.0.0.1:${p}/invocations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        return { container: c, text: await res.text(), status: res.status };
      });
      expect(status, text).toBe(200);
      if (m.mlflow) expect(text).toBe((await readFile(join(m.dir, MLFLOW_RESPONSE), 'utf8')).trim());
      else expectSame(parsePredictions(text), await libraryAnswers(m.dir, body));

      await container.stop({ t: 5 });
      const paths = await containerPaths(container);
      expect(paths.some((p) => p.includes('node_modules/onnxruntime-node/'))).toBe(true);
      const python = paths.filter((p) => /(^|\/)(python[\d.]*|site-packages|libpython[^/]*)(\/|$)/.test(p));
      console.log(`${m.name}: image ${(info.Size / 1e6).toFixed(1)} MB, ${paths.length} paths, none of Python`);
      expect(python).toEqual([]);
    }, 360_000);
  }
});
