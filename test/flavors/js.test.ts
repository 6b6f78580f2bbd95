/**
 * What the JS-code flavour does beyond the shared contract: the context `load` gets, what
 * `predict` receives and may return, model errors (500 with a request id, details only in the
 * log), models that fail at load (refused at registration), and the registry's digests checked
 * before any model code is imported.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveModel } from '../../src/core/save.js';
import type { SaveJsModelOptions } from '../../src/flavors/js/save.js';
import { openModelDir } from '../../src/core/model-dir.js';
import { openRegistry } from '../../src/core/registration.js';
import { createApp } from '../../src/http/app.js';
import type { ServableModel } from '../../src/core/servable.js';
import { loadServable } from '../../src/core/load.js';
import { scoreBody } from '../../src/core/scoring.js';
import { loadModel } from '../../src/core/load-model.js';
import { SingleModelHost } from '../../src/core/model-host.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { ModelDirs } from '../fixtures/flavor-models.js';

const dirs = new ModelDirs();
const loaded: ServableModel[] = [];

afterAll(async () => {
  for (const s of loaded) await s.model.unload();
  await dirs.cleanup();
});

/** Saves a JS model whose module is `source`; returns the model directory. */
async function jsModel(source: string, options: Partial<SaveJsModelOptions> = {}): Promise<string> {
  const src = await dirs.path('src');
  await mkdir(src, { recursive: true });
  const module = join(src, 'model.mjs');
  await writeFile(module, source);
  const out = await dirs.path('js-model');
  await saveModel(out, { flavor: 'js', module, ...options });
  return out;
}

async function serve(dir: string): Promise<ServableModel> {
  const s = await loadServable(await openModelDir(dir), { name: 'js', version: '1' });
  loaded.push(s);
  return s;
}

const score = async (s: ServableModel, body: unknown) =>
  JSON.parse(await scoreBody(s, 'application/json', JSON.stringify(body))) as unknown;

const ECHO = `export function load() { return { predict: (input, params) => ({ input, params }) }; }\n`;

describe('JS flavour: load(context)', () => {
  it('gets the v8-serialized state, artifact paths, the signature and the model directory', async () => {
    const artifactSrc = join(await dirs.path('artifact'), 'vocab.txt');
    await mkdir(join(artifactSrc, '..'), { recursive: true });
    await writeFile(artifactSrc, 'alpha\nbeta\n');
    const dir = await jsModel(
      `import { readFileSync } from 'node:fs';
export async function load(context) {
  const vocab = readFileSync(context.artifacts.vocab, 'utf8').trim().split('\\n');
  return {
    predict: async () => ({
      stateKind: context.state.weights.constructor.name,
      weights: Array.from(context.state.weights),
      when: context.state.when.toISOString(),
      tags: [...context.state.tags],
      vocab,
      artifactIsAbsolute: context.artifacts.vocab.startsWith('/'),
      inputNames: context.signature.inputs.map((s) => s.name),
      params: context.signature.params,
      modelDir: context.modelDir,
    }),
  };
}
`,
      {
        state: { weights: new Float64Array([0.5, -1.25]), when: new Date('2026-01-02T03:04:05Z'), tags: new Set(['a', 'b']) },
        artifacts: { vocab: artifactSrc },
        signature: {
          inputs: [{ type: 'double', name: 'x' }],
          params: [{ name: 'k', type: 'long', default: 3, shape: null }],
        },
      },
    );
    const s = await serve(dir);
    expect(await score(s, { dataframe_records: [{ x: 1 }] })).toEqual({
      predictions: {
        stateKind: 'Float64Array',
        weights: [0.5, -1.25],
        when: '2026-01-02T03:04:05.000Z',
        tags: ['a', 'b'],
        vocab: ['alpha', 'beta'],
        artifactIsAbsolute: true,
        inputNames: ['x'],
        params: [{ name: 'k', type: 'long', default: 3, shape: null }],
        modelDir: dir,
      },
    });
    expect(s.model.info).toMatchObject({ runtime: 'node', module: 'code/model.mjs' });
  });

  it('calls unload() when the model is unloaded', async () => {
    const marker = join(await dirs.path('marker'), 'unloaded');
    const dir = await jsModel(
      `import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
export function load() {
  return { predict: () => 1, unload: () => { mkdirSync(dirname(${JSON.stringify(marker)}), { recursive: true }); writeFileSync(${JSON.stringify(marker)}, 'yes'); } };
}
`,
    );
    await rm(marker); // saveModel loaded and unloaded it once to validate it
    const s = await loadServable(await openModelDir(dir), { name: 'js', version: '1' });
    expect(existsSync(marker)).toBe(false);
    await s.model.unload();
    expect(await readFile(marker, 'utf8')).toBe('yes');
  });
});

describe('JS flavour: isolation', () => {
  const WHERE = `import { isMainThread } from 'node:worker_threads';
export function load(context) {
  context.logger.child({ part: 'loader' }).info({ rows: 3 }, 'model says hello');
  return { predict: () => ({ isMainThread }) };
}
`;

  it("runs in a thread of its own by default, and in the server's with jsIsolation 'none'", async () => {
    const dir = await jsModel(WHERE);
    const threaded = await serve(dir);
    expect(await score(threaded, { inputs: [1] })).toEqual({ predictions: { isMainThread: false } });
    expect(threaded.model.info).toMatchObject({ isolation: 'thread' });
    const inline = await loadServable(await openModelDir(dir), { name: 'js', version: '1' }, { flavor: { jsIsolation: 'none' } });
    loaded.push(inline);
    expect(await score(inline, { inputs: [1] })).toEqual({ predictions: { isMainThread: true } });
    expect(inline.model.info).toMatchObject({ isolation: 'none' });
  });

  it("forwards the model's log lines to the server's logger, tagged as model code", async () => {
    const log = captureLogger();
    const s = await loadServable(await openModelDir(await jsModel(WHERE)), { name: 'js', version: '1' }, { logger: log.logger });
    loaded.push(s);
    await expect
      .poll(() => log.lines().find((l) => l.msg === 'model says hello'))
      .toMatchObject({ model_code: true, part: 'loader', rows: 3, level: 30 });
  });
});

describe('JS flavour: what predict receives and returns', () => {
  it('gets tensors as nested arrays, dicts as objects, DataFrames as records, LLM bodies as they are', async () => {
    const s = await serve(await jsModel(ECHO));
    expect(
      await score(s, {
        inputs: [
          [1, 2.5],
          [3, 4],
        ],
      }),
    ).toEqual({
      predictions: {
        input: [
          [1, 2.5],
          [3, 4],
        ],
        params: {},
      },
    });
    expect(await score(s, { inputs: { a: [true, false], b: ['x', 'y'] } })).toEqual({
      predictions: { input: { a: [true, false], b: ['x', 'y'] }, params: {} },
    });
    expect(
      await score(s, {
        dataframe_split: {
          columns: ['a', 'b'],
          data: [
            [1, 'x'],
            [2, null],
          ],
        },
      }),
    ).toEqual({
      predictions: {
        input: [
          { a: 1, b: 'x' },
          { a: 2, b: null },
        ],
        params: {},
      },
    });
    expect(await score(s, { instances: [{ a: 1, b: [1, 2] }] })).toEqual({ predictions: { input: { a: [1], b: [[1, 2]] }, params: {} } });
    // An LLM-style body is passed through and the answer is not wrapped in "predictions", as in MLflow.
    expect(await score(s, { messages: [{ role: 'user', content: 'hi' }], params: {} })).toEqual({
      input: { messages: [{ role: 'user', content: 'hi' }] },
      params: {},
    });
  });

  it('keeps int64 exact both ways: BigInts beyond 2^53', async () => {
    const s = await serve(
      await jsModel(
        `export function load() { return { predict: (rows) => rows.map((r) => ({ type: typeof r[0], next: typeof r[0] === 'bigint' ? r[0] + 1n : r[0] + 1 })) }; }\n`,
        { signature: { inputs: [{ type: 'tensor', 'tensor-spec': { dtype: 'int64', shape: [-1, 1] } }] } },
      ),
    );
    const text = await scoreBody(s, 'application/json', '{"inputs": [[9007199254740993], [7]]}');
    expect(text).toBe('{"predictions": [{"type": "bigint", "next": 9007199254740994}, {"type": "number", "next": 8}]}');
  });

  it('accepts async predict, typed arrays, Maps and Dates in the result', async () => {
    const s = await serve(
      await jsModel(
        `export function load() {
  return { async predict() { await new Promise((r) => setTimeout(r, 1)); return { f: new Float32Array([0.5, 1]), m: new Map([['k', 1]]), d: new Date(0) }; } };
}
`,
      ),
    );
    expect(await scoreBody(s, 'application/json', '{"inputs": [1]}')).toBe(
      '{"predictions": {"f": [0.5, 1], "m": {"k": 1}, "d": "1970-01-01T00:00:00.000Z"}}',
    );
  });
});

describe('JS flavour: errors', () => {
  const THROWS = `export function load() {
  return {
    predict(input) {
      if (input[0] === 'fn') return { f: () => 1 };
      throw new Error('secret detail from user code');
    },
  };
}
`;

  it('turns an error in predict into 500 INTERNAL_ERROR with a request id; the stack goes to the log only', async () => {
    const s = await serve(await jsModel(THROWS));
    const log = captureLogger();
    const host = new SingleModelHost();
    host.setReady(s);
    const app = createApp({ host, logger: log.logger });
    const res = await app.request('/invocations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"inputs": [1]}',
    });
    const text = await res.text();
    expect(res.status, text).toBe(500);
    expect(text).not.toContain('secret');
    const body = JSON.parse(text) as Record<string, string>;
    expect(body).toEqual({
      error_code: 'INTERNAL_ERROR',
      message: expect.any(String),
      sqlstate: 'XXM00',
      error_class: 'CLIENT_INTERNAL_ERROR',
      request_id: expect.any(String),
    });
    expect(res.headers.get('x-request-id')).toBe(body.request_id);
    const line = log.lines().find((l) => l.requestId === body.request_id) as { err: { message: string; stack: string } };
    expect(line.err.message).toBe('secret detail from user code');
    expect(line.err.stack).toContain('model.mjs');

    // A result that cannot be JSON is the model's fault too.
    const fn = await app.request('/invocations', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"inputs": ["fn"]}',
    });
    expect(fn.status).toBe(500);
    const fnBody = JSON.parse(await fn.text()) as Record<string, string>;
    const fnLine = log.lines().find((l) => l.requestId === fnBody.request_id) as { err: { message: string } };
    expect(fnLine.err.message).toBe('predict returned a function at $.f, which cannot be sent as JSON');
  });

  it('refuses at registration a model that throws at load, with the reason, and registers nothing', async () => {
    const dir = await jsModel(`export function load() { throw new Error('cannot find my weights'); }\n`, { validate: false });
    const registry = openRegistry(await dirs.path('registry'));
    await expect(registry.register(dir, { name: 'broken' })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('cannot find my weights'),
    });
    expect(await registry.listModels()).toEqual([]);
  });

  it('refuses modules without load(), load() without predict, and paths outside the directory', async () => {
    const noLoad = await jsModel(`export const predict = () => 1;\n`, { validate: false });
    await expect(serve(noLoad)).rejects.toMatchObject({ message: expect.stringContaining('does not export a load(context) function') });
    const noPredict = await jsModel(`export function load() { return {}; }\n`, { validate: false });
    await expect(serve(noPredict)).rejects.toMatchObject({ message: expect.stringContaining('predict(input, params)') });

    const outside = await jsModel(ECHO, { validate: false });
    const mlmodel = await readFile(join(outside, 'MLmodel'), 'utf8');
    await writeFile(join(outside, 'MLmodel'), mlmodel.replace('module: code/model.mjs', 'module: ../../../elsewhere.mjs'));
    await expect(serve(outside)).rejects.toMatchObject({ message: expect.stringContaining('points outside the model directory') });
  });

  it('refuses at save time a model that does not load, leaving no directory behind', async () => {
    const src = join(await dirs.path('bad-src'), 'model.mjs');
    await mkdir(join(src, '..'), { recursive: true });
    await writeFile(src, `export function load() { throw new Error('nope'); }\n`);
    const out = await dirs.path('bad-out');
    await expect(saveModel(out, { flavor: 'js', module: src })).rejects.toMatchObject({
      message: expect.stringMatching(/The saved model does not load: .*nope/),
    });
    expect(existsSync(out)).toBe(false);
  });
});

describe('JS flavour: trust', () => {
  it('imports code from the registry only after its digests match: a tampered module is never run', async () => {
    const registry = openRegistry(await dirs.path('registry'));
    const v = await registry.register(await jsModel(ECHO, { inputExample: [[1, 2]] }), { name: 'echo' });
    const { dir } = await registry.materialize(v);
    const marker = join(await dirs.path('tamper'), 'imported');
    await writeFile(
      join(dir, 'code', 'model.mjs'),
      `import { mkdirSync, writeFileSync } from 'node:fs';\nmkdirSync(${JSON.stringify(join(marker, '..'))}, { recursive: true });\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\n${ECHO}`,
    );
    await expect(loadModel('models:/echo/1', registry)).rejects.toMatchObject({
      code: 'DATA_LOSS',
      message: expect.stringContaining('code/model.mjs was modified'),
    });
    expect(existsSync(marker)).toBe(false);
  });
});
