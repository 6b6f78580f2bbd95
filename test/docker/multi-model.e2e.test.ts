/**
 * Several models in one image, without a daemon: the plan of an ONNX and a TF.js model (both
 * resolved once, both in the image's registry, the union of their runtime packages, the list in
 * MODELGATE_MODELS, labels for each), the image's filesystem run on this host answering both by
 * name, and `generate-dockerfile -m A -m B` with its Kubernetes manifests.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { writeBuildContext, type ContextEntry } from '../../src/docker/context.js';
import { APP_DIR } from '../../src/docker/dockerfile.js';
import { type ImagePlan, planImage } from '../../src/docker/image-plan.js';
import { k8sManifests } from '../../src/docker/k8s.js';
import type { Registry } from '../../src/registry/registry.js';
import { writeIrisLayersModel } from '../../tools/tfjs/models.js';
import { requireBuiltCli, runCli, startProcess, waitListening } from '../fixtures/cli.js';
import { SETOSA, cleanup, irisRegistry, tempDir, waitFor200 } from './helpers.js';

let registry: Registry;
let registryUri: string;
let plan: ImagePlan;

beforeAll(async () => {
  requireBuiltCli();
  ({ registry, uri: registryUri } = await irisRegistry());
  const dir = await tempDir('mg-tfjs-');
  await writeIrisLayersModel(dir);
  await registry.register(dir, { name: 'tf-iris', alias: 'champion' });
  plan = await planImage({
    modelUri: ['models:/iris@champion', 'models:/tf-iris/latest'],
    registry,
    created: new Date('2026-01-02T03:04:05Z'),
  });
});
afterAll(cleanup);

const paths = (p: ImagePlan) => p.entries.map((e) => e.path);

async function asImageRoot(entries: readonly ContextEntry[]): Promise<string> {
  const root = join(await tempDir(), 'opt-modelgate');
  const merged = entries.filter((e) => e.path !== 'Dockerfile').map((e) => ({ ...e, path: e.path.replace(/^(deps|app|model)\//, '') }));
  await writeBuildContext(merged, root);
  return root;
}

function startupProbe(names: string[], port: number): string[] {
  const models = names.map((name) => ({ name, version: '1', uri: `models:/${name}/1`, digest: 'sha256:0' }));
  const d = k8sManifests({ name: 'x', image: 'x:1', port, model: models[0], models }).deployment as {
    spec: { template: { spec: { containers: { startupProbe?: { exec?: { command?: string[] } } }[] } } };
  };
  return d.spec.template.spec.containers[0].startupProbe!.exec!.command!;
}

async function post(port: number, path: string): Promise<{ status: number; name: string | null; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: SETOSA,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, name: r.headers.get('x-model-name'), body: await r.text() };
}

describe('planImage with several models', () => {
  it('pins every model and lists them by name in MODELGATE_MODELS', () => {
    expect(plan.models.map((m) => [m.servedName, m.uri, m.requestedUri, m.flavor])).toEqual([
      ['iris', 'models:/iris/1', 'models:/iris@champion', 'onnx'],
      ['tf-iris', 'models:/tf-iris/1', 'models:/tf-iris/latest', 'tfjs'],
    ]);
    expect(plan.model).toBe(plan.models[0]);
    expect(plan.env.MODELGATE_MODEL_URI).toBeUndefined();
    expect(JSON.parse(plan.env.MODELGATE_MODELS)).toEqual([
      { name: 'iris', primary: 'models:/iris/1' },
      { name: 'tf-iris', primary: 'models:/tf-iris/1' },
    ]);
    expect(plan.dockerfile).toContain('for models:/iris/1, models:/tf-iris/1 (requested as models:/iris@champion, models:/tf-iris/latest)');
  });

  it('bakes both versions into the registry, and ships the runtimes of both flavours', () => {
    for (const m of plan.models) {
      const folder = `model/registry/models/${m.name}`;
      expect(
        paths(plan)
          .filter((p) => p.startsWith(`${folder}/`))
          .sort(),
      ).toEqual(
        [
          `${folder}/model.json`,
          `${folder}/versions/1/version.json`,
          ...m.files.map((f) => `${folder}/versions/1/artifacts/${f.path}`),
        ].sort(),
      );
    }
    const pkgs = plan.packages.map((p) => p.name);
    expect(pkgs).toContain('onnxruntime-node');
    expect(pkgs).toContain('@tensorflow/tfjs-core');
  });

  it('describes every model in one label and leaves out the single-model ones', () => {
    const described = JSON.parse(plan.labels['io.modelgate.models']) as { name: string; digest: string; files: unknown[] }[];
    expect(described.map((d) => d.name)).toEqual(['iris', 'tf-iris']);
    expect(described.map((d) => d.digest)).toEqual(plan.models.map((m) => m.digest));
    expect(described[0].files).toHaveLength(plan.models[0].files.length);
    expect(plan.labels['org.opencontainers.image.title']).toBe('iris, tf-iris');
    expect(plan.labels['io.modelgate.model.uri']).toBeUndefined();
  });

  it('takes name=URI, bakes one version once under two names, and refuses two models under one name', async () => {
    const twice = await planImage({ modelUri: ['a=models:/iris/1', 'b=models:/iris@champion'], registry });
    expect(twice.models.map((m) => m.servedName)).toEqual(['a', 'b']);
    expect(new Set(paths(twice)).size).toBe(twice.entries.length);
    expect(JSON.parse(twice.env.MODELGATE_MODELS)).toEqual([
      { name: 'a', primary: 'models:/iris/1' },
      { name: 'b', primary: 'models:/iris/1' },
    ]);
    await expect(planImage({ modelUri: ['models:/iris/1', 'models:/iris@champion'], registry })).rejects.toThrow(
      /Two models would be served as 'iris'/,
    );
    await expect(planImage({ modelUri: ['models:/iris/1', './examples/iris'], registry })).rejects.toThrow(/registered model version/);
    const renamed = await planImage({ modelUri: ['flowers=models:/iris/1'], registry });
    expect(JSON.parse(renamed.env.MODELGATE_MODELS)).toEqual([{ name: 'flowers', primary: 'models:/iris/1' }]);
  });
});

describe('the several-model image filesystem, run on this host', () => {
  it('serves both models by name and refuses an unnamed /invocations', async () => {
    const root = await asImageRoot(plan.entries);
    const env = {
      ...plan.env,
      MODELGATE_REGISTRY_URI: plan.env.MODELGATE_REGISTRY_URI.replace(APP_DIR, root),
      MODELGATE_HOST: '127.0.0.1',
      MODELGATE_PORT: '0',
    };
    const server = startProcess(process.execPath, [join(root, 'modelgate.mjs'), 'serve'], { env, timeoutMs: 60_000, cwd: root });
    const port = Number(new URL(await waitListening(server)).port);
    await waitFor200(`http://127.0.0.1:${port}/ready`, 30_000, () => server.child.exitCode === null).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${server.out.stdout}\n${server.out.stderr}`);
    });
    for (const name of ['iris', 'tf-iris']) {
      const r = await post(port, `/models/${name}/invocations`);
      expect(r.status, r.body).toBe(200);
      expect(r.name).toBe(name);
      const ready = await fetch(`http://127.0.0.1:${port}/v2/models/${name}/ready`, { signal: AbortSignal.timeout(5000) });
      expect(ready.status).toBe(200);
    }
    const unnamed = await post(port, '/invocations');
    expect(unnamed.status).toBe(400);

    // The Deployment's startup probe, run as the kubelet would run it inside the container.
    const probe = startupProbe(['iris', 'tf-iris'], plan.port);
    const ok = await startProcess(probe[0], probe.slice(1), { env: { MODELGATE_PORT: String(port) }, timeoutMs: 10_000 }).done;
    expect(ok.code).toBe(0);
    const missing = startupProbe(['iris', 'not-served'], plan.port);
    const notOk = await startProcess(missing[0], missing.slice(1), { env: { MODELGATE_PORT: String(port) }, timeoutMs: 10_000 }).done;
    expect(notOk.code).toBe(1);
    server.child.kill('SIGTERM');
    expect((await server.done).code).toBe(0);
  });
});

describe('modelgate generate-dockerfile -m A -m B', () => {
  it('writes one context with both models and manifests that wait for both', async () => {
    const dir = join(await tempDir(), 'ctx');
    const k8s = join(await tempDir(), 'k8s');
    const r = await runCli(
      [
        'generate-dockerfile',
        '-m',
        'models:/iris@champion',
        '-m',
        'models:/tf-iris/1',
        '-d',
        dir,
        '--registry',
        registryUri,
        '-n',
        'reg.example.com/ml/flowers:1',
        '--k8s-out',
        k8s,
      ],
      { timeoutMs: 120_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('build context of models:/iris/1, models:/tf-iris/1');
    expect((await readdir(join(dir, 'model/registry/models'))).length).toBe(2);
    expect(await readFile(join(dir, 'Dockerfile'), 'utf8')).toContain('MODELGATE_MODELS=');
    const deployment = parse(await readFile(join(k8s, 'deployment.yaml'), 'utf8')) as {
      spec: { template: { spec: { containers: { startupProbe: { exec: { command: string[] } } }[] } } };
    };
    const probe = deployment.spec.template.spec.containers[0].startupProbe.exec.command.join(' ');
    expect(probe).toContain('/v2/models/iris/ready');
    expect(probe).toContain('/v2/models/tf-iris/ready');
  });
});
