/**
 * The Open Inference Protocol (KServe V2) next to MLflow's protocol: real models on 127.0.0.1
 * answer V2 requests exactly as they answer /invocations, canary versions are addressable by
 * path, and every failure is the protocol's `{"error": …}` with the right status.
 */
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { openRegistry } from '../../src/core/registration.js';
import { GatewayError } from '../../src/errors.js';
import { createApp } from '../../src/http/app.js';
import { encodeOutput } from '../../src/core/scoring.js';
import { encodeInferResponse } from '../../src/protocols/v2/response.js';
import { SingleModelHost } from '../../src/core/model-host.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { trainIrisLogReg } from '../../tools/iris/train.js';
import { irisClassifier } from '../../tools/onnx/models.js';
import { IRIS } from '../fixtures/cli.js';
import { fakeServable } from '../fixtures/fake-flavors.js';
import { IRIS_COLS_V1 } from '../fixtures/mlflow-iris.js';
import { serveModelDir } from '../fixtures/serve-dir.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];

interface V2Output {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}
interface V2Response {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: V2Output[];
}

const temp = tempDirs('modelgate-oip-');
const servers: RunningServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  await temp.removeAll();
});

async function post(port: number, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

const irisInfer = (extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: ROWS.flat() }],
  ...extra,
});

describe('V2 inference on an ONNX model (real HTTP)', () => {
  let port: number;
  beforeAll(async () => {
    const s = await serveModelDir(IRIS, await temp.make());
    servers.push(s);
    port = s.port;
  });

  it('answers /infer with the same numbers /invocations gives, echoing the id, with shapes and datatypes', async () => {
    const v2 = await post(port, '/v2/models/iris/infer', irisInfer({ id: 'req-42' }));
    expect(v2.status).toBe(200);
    // A directory served without a registry is version "local".
    expect(v2.headers.get('x-model-version')).toBe('local');
    const body = v2.json as unknown as V2Response;
    expect(body).toMatchObject({ model_name: 'iris', model_version: 'local', id: 'req-42' });
    expect(body.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
      ['probabilities', 'FP32', [2, 3]],
      ['label', 'INT64', [2]],
    ]);
    const mlflow = await post(port, '/invocations', { inputs: ROWS });
    const predictions = mlflow.json.predictions as { probabilities: number[][]; label: number[] };
    expect(body.outputs[0].data).toEqual(predictions.probabilities.flat());
    expect(body.outputs[1].data).toEqual(predictions.label);
  });

  it('takes nested data, a version in the path, and returns only the outputs asked for', async () => {
    const nested = { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: ROWS }], outputs: [{ name: 'label' }] };
    const r = await post(port, '/v2/models/iris/versions/local/infer', nested);
    expect(r.status).toBe(200);
    expect((r.json as unknown as V2Response).outputs).toEqual([{ name: 'label', datatype: 'INT64', shape: [2], data: [0, 2] }]);
  });

  it('describes the model and its readiness from the signature', async () => {
    const meta = await fetch(`http://127.0.0.1:${port}/v2/models/iris`);
    expect(await meta.json()).toEqual({
      name: 'iris',
      versions: ['local'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    });
    const ready = await fetch(`http://127.0.0.1:${port}/v2/models/iris/versions/local/ready`);
    expect([ready.status, await ready.json()]).toEqual([200, { name: 'iris', ready: true }]);
    const server = await fetch(`http://127.0.0.1:${port}/v2`);
    expect(await server.json()).toMatchObject({ name: 'modelgate', extensions: [] });
  });

  it.each([
    [
      'a datatype the model does not take',
      { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP64', data: [1, 2, 3, 4] }] },
      /dtype of input float64 does not match expected dtype float32/,
    ],
    [
      'a shape the data does not fill',
      { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3] }] },
      /has 3 values, but its shape \[1, 4\] holds 4/,
    ],
    [
      'a shape the model does not take',
      { inputs: [{ name: 'input', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] },
      /does not match expected shape/,
    ],
    [
      'an unknown datatype',
      { inputs: [{ name: 'input', shape: [1, 4], datatype: 'BF17', data: [1, 2, 3, 4] }] },
      /datatype 'BF17'; supported: BOOL/,
    ],
    ['no inputs', { inputs: [] }, /\/inputs must NOT have fewer than 1 items/],
    ['a duplicate input', { inputs: [irisInfer().inputs[0], irisInfer().inputs[0]] }, /'input' appears more than once/],
    ['a wrong input name', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }, /missing inputs \['input'\]/],
    [
      'a string in FP32 data',
      { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: ['a', 2, 3, 4] }] },
      /could not convert string to float/,
    ],
    [
      'an unknown output',
      irisInfer({ outputs: [{ name: 'nope' }] }),
      /Unknown output 'nope'; the model's outputs are probabilities, label/,
    ],
    ['invalid JSON', '{"inputs": [', /valid JSON/],
    ['a body that is not an object', '[1, 2]', /Invalid inference request: the body must be object/],
  ])('refuses %s with 400 and {"error": …}', async (_what, body, message) => {
    const r = await post(port, '/v2/models/iris/infer', body);
    expect(r.status).toBe(400);
    expect(Object.keys(r.json)).toEqual(['error']);
    expect(r.json.error).toMatch(message);
  });

  it('answers an unknown model or version 404, and a wrong method 405, in the protocol shape', async () => {
    const unknown = await post(port, '/v2/models/nope/infer', irisInfer());
    expect([unknown.status, unknown.json]).toEqual([404, { error: "Model 'nope' is not served here; this server serves iris." }]);
    const version = await post(port, '/v2/models/iris/versions/9/infer', irisInfer());
    expect(version.status).toBe(404);
    expect(version.json.error).toMatch(/Version 9 of model 'iris' is not served here/);
    const method = await fetch(`http://127.0.0.1:${port}/v2/models/iris/infer`);
    expect([method.status, method.headers.get('allow')]).toEqual([405, 'POST']);
    await method.arrayBuffer();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/modelgate_http_requests_total\{method="POST",route="\/v2\/models\/:name\/infer",status="200"\} \d+/);
  });
});

describe('V2 inference on a column-signature model MLflow wrote', () => {
  it('takes one input per column and predicts as dataframe_split does', async () => {
    const s = await serveModelDir(IRIS_COLS_V1, await temp.make());
    servers.push(s);
    const columns = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
    const v2 = await post(s.port, '/v2/models/iris-cols-v1/infer', {
      inputs: columns.map((name, c) => ({ name, shape: [2], datatype: 'FP64', data: ROWS.map((r) => r[c]) })),
    });
    expect(v2.status).toBe(200);
    const mlflow = await post(s.port, '/invocations', { dataframe_split: { columns, data: ROWS } });
    const records = mlflow.json.predictions as Record<string, unknown>[];
    const outputs = (v2.json as unknown as V2Response).outputs;
    for (const o of outputs) expect(o.data).toEqual(records.map((r) => r[o.name]).flat());
    const meta = (await (await fetch(`http://127.0.0.1:${s.port}/v2/models/iris-cols-v1`)).json()) as { inputs: unknown[] };
    expect(meta.inputs).toEqual(columns.map((name) => ({ name, datatype: 'FP64', shape: [-1] })));
  });
});

describe('V2 and the canary', () => {
  it('splits unversioned requests by weight, and a version in the path reaches that version only', async () => {
    const root = await temp.make();
    const registry = openRegistry(join(root, 'registry'));
    const { weights, bias } = trainIrisLogReg();
    for (const scale of [1, 0.5]) {
      const dir = join(root, `model-${scale}`);
      await cp(IRIS, dir, { recursive: true });
      await writeFile(join(dir, 'model.onnx'), irisClassifier({ weights: weights.map((r) => r.map((w) => w * scale)), bias }));
      await registry.register(dir, { name: 'iris' });
    }
    const config = resolveServeConfig({
      modelUri: 'models:/iris/1',
      canaryUri: 'models:/iris/2',
      canaryWeight: 50,
      registryUri: join(root, 'registry'),
      port: 0,
      pollSeconds: 0,
      shutdownGraceSeconds: 0,
    });
    const s = await startServer(config, silentLogger());
    servers.push(s);
    await s.loaded;

    const meta = (await (await fetch(`http://127.0.0.1:${s.port}/v2/models/iris`)).json()) as { versions: string[] };
    expect(meta.versions.sort()).toEqual(['1', '2']);
    const answers = new Map<string, string>();
    for (const v of ['1', '2']) {
      for (let i = 0; i < 20; i++) {
        const r = await post(s.port, `/v2/models/iris/versions/${v}/infer`, irisInfer());
        expect([r.status, r.headers.get('x-model-version'), (r.json as unknown as V2Response).model_version]).toEqual([200, v, v]);
        answers.set(v, JSON.stringify(r.json.outputs));
      }
    }
    expect(answers.get('1')).not.toEqual(answers.get('2'));
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const r = await post(s.port, '/v2/models/iris/infer', irisInfer());
      const v = r.headers.get('x-model-version')!;
      expect(JSON.stringify(r.json.outputs)).toBe(answers.get(v));
      seen.add(v);
    }
    expect([...seen].sort()).toEqual(['1', '2']);
  });
});

describe('V2 on the HTTP surface (in process)', () => {
  const TENSOR_SIG = { inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]' };
  const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] });
  const request = (headers: Record<string, string> = {}) => ({
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });

  it('is not ready, and says so in both shapes, until a model is loaded', async () => {
    const host = new SingleModelHost();
    const app = createApp({ host });
    const ready = await app.request('/v2/models/fake/ready');
    expect([ready.status, await ready.json()]).toEqual([503, { name: 'fake', ready: false }]);
    const infer = await app.request('/v2/models/fake/infer', request());
    expect(infer.status).toBe(503);
    expect(Object.keys((await infer.json()) as object)).toEqual(['error']);
    host.setReady(await fakeServable({ kind: 'echo' }, TENSOR_SIG));
    const now = await app.request('/v2/models/fake/infer', request());
    expect(await now.json()).toEqual({
      model_name: 'fake',
      model_version: '1',
      outputs: [{ name: 'output-0', datatype: 'FP32', shape: [1, 2], data: [1, 2] }],
    });
  });

  it('hides a model failure behind a request id, and passes request parameters to the model as params', async () => {
    const host = new SingleModelHost();
    host.setReady(await fakeServable({ kind: 'throw', message: 'secret detail at /srv/model.js' }, TENSOR_SIG));
    const failing = await createApp({ host }).request('/v2/models/fake/infer', request({ 'x-request-id': 'abc-1' }));
    expect(failing.status).toBe(500);
    expect(await failing.json()).toEqual({ error: 'The model failed while computing the prediction. (request id abc-1)' });

    const echoParams = new SingleModelHost();
    const sig = { ...TENSOR_SIG, params: '[{"name": "temperature", "type": "double", "default": 0.5, "shape": null}]' };
    echoParams.setReady(await fakeServable({ kind: 'params' }, sig));
    const withParams = JSON.stringify({ ...JSON.parse(body), parameters: { temperature: 0.9, content_type: 'np' } });
    const r = await createApp({ host: echoParams }).request('/v2/models/fake/infer', { method: 'POST', body: withParams });
    expect(((await r.json()) as V2Response).outputs).toEqual([{ name: 'temperature', datatype: 'FP64', shape: [], data: [0.9] }]);
  });

  it("answers 500, not 400, when a JS model's output is not a tensor", () => {
    const ctx = { ref: { name: 'm', version: '1' }, signature: undefined, id: undefined, outputs: undefined };
    const ragged = () => encodeOutput(() => encodeInferResponse({ kind: 'json', value: { scores: [[1], [1, 2]] } }, ctx));
    expect(ragged).toThrow(GatewayError);
    expect(ragged).toThrow(
      expect.objectContaining({
        status: 500,
        cause: expect.objectContaining({ message: expect.stringMatching(/output 'scores' is not a tensor/) }),
      }),
    );
    const fine = encodeInferResponse({ kind: 'json', value: { label: ['a', 'b'], n: 3 } }, ctx);
    expect(JSON.parse(fine)).toEqual({
      model_name: 'm',
      model_version: '1',
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [2], data: ['a', 'b'] },
        { name: 'n', datatype: 'INT64', shape: [], data: [3] },
      ],
    });
  });

  it('asks for the bearer token on inference and metadata, and answers 401 in the protocol shape', async () => {
    const host = new SingleModelHost();
    host.setReady(await fakeServable({ kind: 'echo' }, TENSOR_SIG));
    const app = createApp({ host, options: { authTokens: ['s3cret'] } });
    const denied = await app.request('/v2/models/fake/infer', request());
    expect(denied.status).toBe(401);
    expect(Object.keys((await denied.json()) as object)).toEqual(['error']);
    expect((await app.request('/v2/models/fake')).status).toBe(401);
    expect((await app.request('/v2/models/fake/infer', request({ authorization: 'Bearer s3cret' }))).status).toBe(200);
    // Health stays open unless configured otherwise.
    expect((await app.request('/v2/models/fake/ready')).status).toBe(200);
  });
});
