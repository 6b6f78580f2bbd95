/**
 * The build context of a registered model, without a daemon: what goes in (and what does not),
 * the tar stream the daemon receives, and — laid out as the image's /opt/modelgate on this host —
 * that the pruned dependencies really serve the model and the baked digests really guard it.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextSize, createBuildContext, isFileEntry, writeBuildContext, type ContextEntry } from '../../src/docker/context.js';
import { BUILDER_ONLY_PACKAGES, directRuntimeDependencies, flavorPackages } from '../../src/docker/dependencies.js';
import { APP_DIR, healthcheckCommand } from '../../src/docker/dockerfile.js';
import { type ImagePlan, planImage } from '../../src/docker/image-plan.js';
import { modelDigest } from '../../src/docker/model-files.js';
import { openRegistry } from '../../src/core/registration.js';
import type { Registry } from '../../src/registry/registry.js';
import { writeIrisLayersModel } from '../../tools/tfjs/models.js';
import { CLI, IRIS, requireBuiltCli, runCli, startProcess, waitListening } from '../fixtures/cli.js';
import { cleanup, invoke, irisRegistry, tempDir, waitFor200 } from './helpers.js';

const FLAVOR_PACKAGES = flavorPackages();

let registry: Registry;
let registryUri: string;
let amd64: ImagePlan;
let arm64: ImagePlan;

beforeAll(async () => {
  requireBuiltCli();
  ({ registry, uri: registryUri } = await irisRegistry());
  amd64 = await planImage({
    modelUri: 'models:/iris@champion',
    registry,
    platform: 'linux/amd64',
    created: new Date('2026-01-02T03:04:05Z'),
  });
  arm64 = await planImage({ modelUri: 'models:/iris/1', registry, platform: 'linux/arm64' });
});
afterAll(cleanup);

const paths = (p: ImagePlan) => p.entries.map((e) => e.path);
const under = (p: ImagePlan, prefix: string) => paths(p).filter((x) => x.startsWith(prefix));
const sizeUnder = (p: ImagePlan, prefix: string) =>
  p.entries.filter((e) => e.path.startsWith(prefix)).reduce((n, e) => n + (isFileEntry(e) ? e.size : Buffer.byteLength(e.content)), 0);

/** Lays the context out as the three COPY steps do: deps/, app/ and model/ all land in one directory. */
async function asImageRoot(entries: readonly ContextEntry[]): Promise<string> {
  const root = join(await tempDir(), 'opt-modelgate');
  const merged = entries.filter((e) => e.path !== 'Dockerfile').map((e) => ({ ...e, path: e.path.replace(/^(deps|app|model)\//, '') }));
  await writeBuildContext(merged, root);
  return root;
}

describe('planImage', () => {
  it('resolves the alias once and pins the version', () => {
    expect(amd64.model).toMatchObject({
      name: 'iris',
      version: '1',
      requestedUri: 'models:/iris@champion',
      uri: 'models:/iris/1',
      flavor: 'onnx',
    });
    expect(amd64.env.MODELGATE_MODEL_URI).toBe('models:/iris/1');
    expect(amd64.dockerfile).toContain('MODELGATE_MODEL_URI="models:/iris/1"');
  });

  it('labels the image with OCI keys, the model and its digests', async () => {
    const version = await registry.resolve('models:/iris/1');
    const files = version.files!;
    const list = [...files]
      .sort((a, b) => (a.path < b.path ? -1 : 1))
      .map((f) => `${f.sha256}  ${f.path}\n`)
      .join('');
    expect(amd64.labels).toMatchObject({
      'org.opencontainers.image.title': 'iris',
      'org.opencontainers.image.version': '1',
      'org.opencontainers.image.created': '2026-01-02T03:04:05.000Z',
      'org.opencontainers.image.base.name': 'node:20-bookworm-slim',
      'io.modelgate.model.name': 'iris',
      'io.modelgate.model.version': '1',
      'io.modelgate.model.uri': 'models:/iris/1',
      'io.modelgate.model.requested-uri': 'models:/iris@champion',
      'io.modelgate.model.flavor': 'onnx',
      'io.modelgate.model.digest': `sha256:${createHash('sha256').update(list).digest('hex')}`,
    });
    expect(JSON.parse(amd64.labels['io.modelgate.model.files'])).toEqual(
      files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
    );
    const onnx = files.find((f) => f.path === 'model.onnx')!;
    expect(onnx.sha256).toBe(
      createHash('sha256')
        .update(await readFile(join(IRIS, 'model.onnx')))
        .digest('hex'),
    );
    expect(modelDigest([...files].reverse())).toBe(amd64.model.digest);
  });

  it('ships only the target platform of onnxruntime and none of the TF.js, builder or install-time packages', () => {
    const ort = under(amd64, 'deps/node_modules/onnxruntime-node/bin/');
    expect(ort.sort()).toEqual([
      'deps/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
      'deps/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    ]);
    expect(under(arm64, 'deps/node_modules/onnxruntime-node/bin/').every((p) => p.includes('/linux/arm64/'))).toBe(true);
    expect(under(arm64, 'deps/node_modules/onnxruntime-node/bin/').length).toBeGreaterThan(0);
    const pkgs = amd64.packages.map((p) => p.name);
    for (const absent of [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-backend-wasm',
      'dockerode',
      'tar-stream',
      'adm-zip',
      'global-agent',
      'kubernetes-models',
      'vitest',
      'typescript',
    ]) {
      expect(pkgs).not.toContain(absent);
    }
    // The server is one bundled file: what it imports at run time is onnxruntime (and undici, for an HTTP registry).
    expect(pkgs.sort()).toEqual(['onnxruntime-common', 'onnxruntime-node', 'undici']);
    expect(under(amd64, 'deps/node_modules/onnxruntime-node/script/')).toEqual([]);
  });

  it('leaves out type declarations, source maps, docs and tests', () => {
    // The model's own files (its README too) go in as registered; this is about the code.
    const code = paths(amd64).filter((p) => !p.startsWith('model/'));
    const offenders = code.filter((p) => /\.(d\.[cm]?ts|map|md)$|^deps\/node_modules\/(@[^/]+\/)?[^/]+\/(test|tests|docs)\//.test(p));
    expect(offenders).toEqual([]);
    // The bundle, tracing's lazily imported file, the inference log's thread, and the console's files beside them (no CDN: the pages load only these).
    expect(under(amd64, 'app/').sort()).toEqual([
      'app/console/console.css',
      'app/console/console.html',
      'app/console/console.js',
      'app/console/docs.html',
      'app/console/docs.js',
      'app/console/swagger-ui-bundle.js',
      'app/console/swagger-ui.css',
      'app/log-thread.mjs',
      'app/modelgate.mjs',
      'app/otel.mjs',
    ]);
  });

  it('stays within the size budget: our layers ≤ 65 MB above the base', () => {
    const deps = sizeUnder(amd64, 'deps/');
    const ort = sizeUnder(amd64, 'deps/node_modules/onnxruntime-node/bin/');
    expect(ort).toBeGreaterThan(40e6); // the runtime itself, ~46 MB
    expect(deps - ort).toBeLessThan(15e6); // everything else the server loads
    expect(contextSize(amd64.entries)).toBeLessThan(65e6);
    expect(contextSize(amd64.entries)).toBe(amd64.contextBytes);
  });

  it('bakes a one-version registry with the recorded digests', () => {
    const folder = 'model/registry/models/iris';
    expect(under(amd64, folder).sort()).toEqual(
      [
        `${folder}/model.json`,
        `${folder}/versions/1/version.json`,
        ...amd64.model.files.map((f) => `${folder}/versions/1/artifacts/${f.path}`),
      ].sort(),
    );
  });

  it('chooses only the flavour’s packages, and nothing the bundle holds; an unknown flavour gets them all', () => {
    const deps = ['ajv', 'dockerode', 'hono', 'onnxruntime-node', 'tar-stream', 'undici', ...FLAVOR_PACKAGES.tfjs];
    expect(directRuntimeDependencies(deps, ['onnx'])).toEqual(['onnxruntime-node', 'undici']);
    expect(directRuntimeDependencies(deps, ['tfjs'])).toEqual([...FLAVOR_PACKAGES.tfjs, 'undici'].sort());
    expect(directRuntimeDependencies(deps, ['js-code'])).toEqual(['onnxruntime-node', 'undici', ...FLAVOR_PACKAGES.tfjs].sort());
    expect(directRuntimeDependencies(deps, ['onnx']).some((d) => BUILDER_ONLY_PACKAGES.includes(d))).toBe(false);
  });

  it('refuses a model directory, and warns about a musl base', async () => {
    await expect(planImage({ modelUri: IRIS, registry })).rejects.toThrow(/registered model version/);
    const p = await planImage({ modelUri: 'models:/iris/1', registry, baseImage: 'node:20-alpine' });
    expect(p.warnings.join(' ')).toMatch(/glibc/);
  });

  it('names the model folder as the local registry does, also for names too long for one path component', async () => {
    const long = `m${'ü'.repeat(120)}`;
    const dir = await tempDir('mg-reg-long-');
    const reg = openRegistry(`file:${dir}`);
    await reg.register(IRIS, { name: long });
    const folders = await readdir(join(dir, 'models'));
    expect(folders).toHaveLength(1);
    const p = await planImage({ modelUri: `models:/${long}/1`, registry: reg });
    const models = new Set(p.entries.filter((e) => e.path.startsWith('model/registry/models/')).map((e) => e.path.split('/')[3]));
    expect([...models]).toEqual(folders);
  });
});

describe('createBuildContext', () => {
  it('streams a tar of exactly the entries, root-owned, with one mtime, directories first', async () => {
    const seen = new Map<string, { type: string; mode: number; uid: number; mtime: number; body: Buffer }>();
    const order: string[] = [];
    const ex = extract();
    const done = new Promise<void>((res, rej) => {
      ex.on('entry', (h, stream, next) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => chunks.push(c as Buffer));
        stream.on('end', () => {
          seen.set(h.name, {
            type: h.type ?? 'file',
            mode: h.mode ?? 0,
            uid: h.uid ?? -1,
            mtime: h.mtime?.getTime() ?? 0,
            body: Buffer.concat(chunks),
          });
          order.push(h.name);
          next();
        });
      });
      ex.on('finish', res);
      ex.on('error', rej);
    });
    createBuildContext(amd64.entries, new Date('2020-01-01T00:00:00Z')).pipe(ex);
    await done;

    const files = [...seen].filter(([, v]) => v.type === 'file');
    expect(files.map(([k]) => k).sort()).toEqual(paths(amd64).sort());
    expect(new Set([...seen.values()].map((v) => v.uid))).toEqual(new Set([0]));
    expect(new Set([...seen.values()].map((v) => v.mtime))).toEqual(new Set([Date.parse('2020-01-01T00:00:00Z')]));
    for (const [name, v] of seen) {
      if (v.type === 'directory') expect(order.indexOf(name)).toBeLessThan(order.findIndex((n) => n.startsWith(name) && n !== name));
    }
    const model = files.find(([k]) => k.endsWith('/artifacts/model.onnx'))![1];
    expect(createHash('sha256').update(model.body).digest('hex')).toBe(amd64.model.files.find((f) => f.path === 'model.onnx')!.sha256);
    expect(model.mode & 0o777).toBe(0o644);
    expect(seen.get('deps/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1')!.body.length).toBeGreaterThan(40e6);
    expect(seen.get('Dockerfile')!.body.toString()).toBe(amd64.dockerfile);
  });

  it('fails the stream when a file changed size after planning', async () => {
    const dir = await tempDir();
    const f = join(dir, 'a.txt');
    await writeFile(f, 'hello');
    const stream = createBuildContext([{ path: 'a.txt', source: f, size: 5, mode: 0o644 }]);
    await writeFile(f, 'hello, longer');
    await expect(text(stream)).rejects.toThrow();
  });

  it('refuses paths outside the context and duplicates', () => {
    expect(() => createBuildContext([{ path: '../x', mode: 0o644, content: '' }])).toThrow(/Invalid/);
    expect(() => createBuildContext([{ path: '/etc/passwd', mode: 0o644, content: '' }])).toThrow(/Invalid/);
    expect(() =>
      createBuildContext([
        { path: 'a', mode: 0o644, content: '' },
        { path: 'a', mode: 0o644, content: '' },
      ]),
    ).toThrow(/Duplicate/);
  });
});

describe('the image filesystem, run on this host', () => {
  let root: string;
  beforeAll(async () => {
    root = await asImageRoot(amd64.entries);
  });

  /** The image's environment, with paths moved from /opt/modelgate to `root` and loopback instead of 0.0.0.0. */
  const imageEnvHere = (port: number, r = root) => ({
    ...amd64.env,
    MODELGATE_REGISTRY_URI: amd64.env.MODELGATE_REGISTRY_URI.replace(APP_DIR, r),
    MODELGATE_HOST: '127.0.0.1',
    MODELGATE_PORT: String(port),
  });

  it('serves the model with only the shipped dependencies, and the HEALTHCHECK command sees it', async () => {
    // Nothing above the temp directory has a node_modules, so every import resolves inside it.
    const server = startProcess(process.execPath, [join(root, 'modelgate.mjs'), 'serve'], {
      env: imageEnvHere(0),
      timeoutMs: 60_000,
      cwd: root,
    });
    const port = Number(new URL(await waitListening(server)).port);
    const alive = () => server.child.exitCode === null;
    await waitFor200(`http://127.0.0.1:${port}/ready`, 30_000, alive);
    const r = await invoke(port);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-model-name')).toBe('iris');
    expect(r.headers.get('x-model-version')).toBe('1');
    expect((r.json as { predictions: { label: number[] } }).predictions.label).toEqual([0]);

    const hc = healthcheckCommand(amd64.port);
    const healthy = await startProcess(hc[0], hc.slice(1), {
      env: { MODELGATE_PORT: String(port), MODELGATE_HOST: '0.0.0.0' },
      timeoutMs: 10_000,
    }).done;
    expect(healthy.code).toBe(0);

    server.child.kill('SIGTERM');
    const exit = await server.done;
    expect(exit.code).toBe(0);
    const unhealthy = await startProcess(hc[0], hc.slice(1), { env: { MODELGATE_PORT: String(port) }, timeoutMs: 10_000 }).done;
    expect(unhealthy.code).toBe(1);
  });

  it('refuses to serve a model file that no longer matches its baked digest', async () => {
    const copy = await asImageRoot(amd64.entries);
    const onnx = join(copy, 'registry/models/iris/versions/1/artifacts/model.onnx');
    const bytes = await readFile(onnx);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(onnx, bytes);
    const r = await startProcess(process.execPath, [join(copy, 'modelgate.mjs'), 'serve'], { env: imageEnvHere(0, copy), cwd: copy }).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model\.onnx was modified/);
  });
});

describe('a TF.js model’s image filesystem', () => {
  it('carries the TF.js bundles Node loads and no onnxruntime, and serves the model from them', async () => {
    const dir = await tempDir('mg-tfjs-');
    await writeIrisLayersModel(dir);
    await registry.register(dir, { name: 'tf-iris' });
    const plan = await planImage({ modelUri: 'models:/tf-iris/latest', registry });
    expect(plan.model.flavor).toBe('tfjs');
    const pkgs = plan.packages.map((p) => p.name);
    expect(pkgs).toContain('@tensorflow/tfjs-core');
    expect(pkgs).not.toContain('onnxruntime-node');
    expect(pkgs.filter((n) => n.startsWith('@types/'))).toEqual([]);
    expect(under(plan, 'deps/node_modules/@tensorflow/tfjs-core/').sort()).toEqual([
      'deps/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js',
      'deps/node_modules/@tensorflow/tfjs-core/package.json',
    ]);
    expect(sizeUnder(plan, 'deps/')).toBeLessThan(20e6);

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
    const r = await invoke(port);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-model-name')).toBe('tf-iris');
    server.child.kill('SIGTERM');
    expect((await server.done).code).toBe(0);
    // The wasm backend started from the shipped .wasm files (it falls back to cpu with a warning otherwise).
    expect(server.out.stdout).not.toMatch(/backend unavailable|failed to initialise/);
    expect(server.out.stdout).toMatch(/"backend":"wasm"[^\n]*TF\.js backend ready/);
  });
});

describe('modelgate generate-dockerfile', () => {
  it('writes the Dockerfile and the whole context, and Kubernetes manifests', async () => {
    const dir = join(await tempDir(), 'ctx');
    const k8s = join(await tempDir(), 'k8s');
    const r = await runCli(
      [
        'generate-dockerfile',
        '-m',
        'models:/iris@champion',
        '-d',
        dir,
        '--registry',
        registryUri,
        '-n',
        'reg.example.com/ml/iris:1',
        '--k8s-out',
        k8s,
        '--platform',
        'linux/arm64',
        '-e',
        'MODELGATE_MAX_BODY_BYTES=2048',
      ],
      { timeoutMs: 120_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('docker build --platform linux/arm64 -t reg.example.com/ml/iris:1');
    const dockerfile = await readFile(join(dir, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('FROM --platform=linux/arm64 node:20-bookworm-slim');
    expect(dockerfile).toContain('MODELGATE_MAX_BODY_BYTES="2048"');
    const libs = await readdir(join(dir, 'deps/node_modules/onnxruntime-node/bin/napi-v6/linux'));
    expect(libs).toEqual(['arm64']);
    const onnx = await readFile(join(dir, 'model/registry/models/iris/versions/1/artifacts/model.onnx'));
    expect(onnx.equals(await readFile(join(IRIS, 'model.onnx')))).toBe(true);
    expect((await readdir(k8s)).sort()).toEqual(['deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'service.yaml']);
    expect(await readFile(join(k8s, 'deployment.yaml'), 'utf8')).toContain('image: reg.example.com/ml/iris:1');
  });

  it('refuses a non-empty directory, a bad platform and a missing -m, with usage status 2 or error status 1', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'x'));
    const nonEmpty = await runCli(['generate-dockerfile', '-m', 'models:/iris/1', '-d', dir, '--registry', registryUri]);
    expect(nonEmpty.code).toBe(1);
    expect(nonEmpty.stderr).toMatch(/not empty/);
    const platform = await runCli(['generate-dockerfile', '-m', 'models:/iris/1', '-d', dir, '--platform', 'linux/s390x']);
    expect(platform.code).toBe(2);
    const noModel = await runCli(['generate-dockerfile', '-d', dir]);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/-m\/--model-uri/);
    const badName = await runCli(['build-image', '-m', 'models:/iris/1', '-n', 'Iris Classifier']);
    expect(badName.code).toBe(2);
    expect(CLI).toMatch(/modelgate\.mjs$/);
  });
});
