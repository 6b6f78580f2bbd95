/**
 * Replays every request of the MLflow recording (test/fixtures/mlflow-scoring-probes.ts), and the
 * probes whose MLflow 3.11 answers come from its source, against modelgate serving "the same
 * model" over real HTTP: an MLflow-style directory for an iris classifier, once with MLflow's
 * tensor signature and once with its column signature. Status, error_code, sqlstate, error_class
 * and predicted classes must be MLflow's (or the documented deliberate difference), and every
 * error body must have MLflow 3's shape without stack traces or echoed input. /ping and /health
 * mean "ready to serve", as in MLflow.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { pyFloat, pyJson } from '../../src/util/py-json.js';
import { trainIrisLogReg } from '../../tools/iris/train.js';
import { buildOnnxModel } from '../../src/onnx/writer.js';
import { irisClassifier } from '../../tools/onnx/models.js';
import { IRIS_V1 } from '../fixtures/mlflow-iris.js';
import {
  IRIS_COLUMNS,
  IRIS_ROWS,
  IRIS_ROW_CLASSES,
  MLFLOW_3_PROBES,
  type ProbeOutcome,
  type ProbeResult,
  SCORING_PROBES,
  type ScoringProbe,
  expectedResult,
} from '../fixtures/mlflow-scoring-probes.js';
import { serveModelDir } from '../fixtures/serve-dir.js';

type Variant = 'tensor' | 'columns';

const TENSOR_INPUTS = '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]';
const COLUMN_INPUTS = pyJson(IRIS_COLUMNS.map((name) => ({ type: 'double', name, required: true })));
const OUTPUTS = '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]';

/** `json.dumps(value, indent=2)`, floats as Python writes them (`3.0`, not `3`). */
function pyJsonIndent(value: unknown, indent = ''): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + pyJsonIndent(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (typeof value === 'number') return pyFloat(value);
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pyJsonIndent(v, inner)}`);
    return `{\n${entries.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

function mlmodelText(variant: Variant, modelBytes: number, id: string): string {
  const example = variant === 'tensor' ? ['  type: ndarray'] : ['  pandas_orient: split', '  type: dataframe'];
  return [
    `artifact_path: mlflow-artifacts:/1/models/${id}/artifacts`,
    'flavors:',
    '  onnx:',
    '    code: null',
    '    data: model.onnx',
    '    onnx_session_options: null',
    '    onnx_version: 1.16.0',
    '    providers:',
    '    - CUDAExecutionProvider',
    '    - CPUExecutionProvider',
    '  python_function:',
    '    data: model.onnx',
    '    env:',
    '      conda: conda.yaml',
    '      virtualenv: python_env.yaml',
    '    loader_module: mlflow.onnx',
    '    python_version: 3.11.2',
    'is_signature_from_type_hint: false',
    'mlflow_version: 3.11.2.dev0',
    `model_id: ${id}`,
    `model_size_bytes: ${modelBytes}`,
    `model_uuid: ${id}`,
    'prompts: null',
    'run_id: 3544a4a2751e4157880479de05af3f3d',
    'saved_input_example_info:',
    '  artifact_path: input_example.json',
    ...example.slice(0, -1),
    '  serving_input_path: serving_input_example.json',
    ...example.slice(-1),
    'signature:',
    `  inputs: '${variant === 'tensor' ? TENSOR_INPUTS : COLUMN_INPUTS}'`,
    `  outputs: '${OUTPUTS}'`,
    '  params: null',
    'type_hint_from_example: false',
    "utc_time_created: '2026-11-26 14:38:46.134848'",
    '',
  ].join('\n');
}

/** An MLflow-style model directory: MLmodel, model.onnx, the input examples and the environment files. */
async function writeModelDir(dir: string, variant: Variant, onnx: Uint8Array): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.onnx'), onnx);
  await writeFile(join(dir, 'MLmodel'), mlmodelText(variant, onnx.length, `m-replay${variant}`));
  const rows = IRIS_ROWS.map((r) => [...r]);
  const example = variant === 'tensor' ? rows : { columns: [...IRIS_COLUMNS], data: rows };
  const serving = variant === 'tensor' ? { inputs: rows } : { dataframe_split: example };
  await writeFile(join(dir, 'input_example.json'), pyJson(example));
  await writeFile(join(dir, 'serving_input_example.json'), pyJsonIndent(serving));
  for (const f of ['conda.yaml', 'python_env.yaml', 'requirements.txt']) {
    await writeFile(join(dir, f), await readFile(join(IRIS_V1, f)));
  }
}

/** x float [N,3] → Reshape to [5]: valid for no batch size, so every prediction fails inside onnxruntime. */
function alwaysFailingModel(): Uint8Array {
  return buildOnnxModel({
    graphName: 'reshape_fails',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 3] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [5] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
    initializers: [{ name: 'shape', dtype: 'int64', dims: [1], data: [5n] }],
  });
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

async function send(
  port: number,
  probe: Pick<ScoringProbe, 'method' | 'path' | 'contentType' | 'body' | 'bodyFile'>,
  requestId?: string,
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (probe.contentType !== null) headers['content-type'] = probe.contentType;
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  // A Uint8Array body: fetch adds no Content-Type of its own (a string body would get text/plain).
  const body =
    probe.bodyFile !== undefined
      ? new Uint8Array(await readFile(join(FIXTURES, probe.bodyFile)))
      : probe.body === null
        ? undefined
        : new TextEncoder().encode(probe.body);
  const res = await fetch(`http://127.0.0.1:${port}${probe.path}`, { method: probe.method, headers, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The decimal numbers a request body carries: none of them may come back in an error message. */
function inputValues(body: string | null): string[] {
  return [...new Set(body?.match(/\d+\.\d+/g) ?? [])];
}

interface ErrorReply {
  error_code: string;
  message: string;
  sqlstate?: string;
  error_class?: string;
  request_id?: string;
}

/** MLflow 3's error shape: error_code, message, then its classification (sqlstate, error_class); request_id on 5xx is ours. */
function expectCleanErrorBody(
  reply: Reply,
  probe: Pick<ScoringProbe, 'body'>,
  expected?: Pick<ProbeResult, 'sqlstate' | 'error_class'>,
): ErrorReply {
  expect(reply.headers.get('content-type')).toBe('application/json');
  const body = JSON.parse(reply.text) as ErrorReply;
  const keys = ['error_code', 'message', 'sqlstate', 'error_class', ...(reply.status >= 500 ? ['request_id'] : [])];
  expect(Object.keys(body)).toEqual(keys);
  if (expected !== undefined) expect({ sqlstate: body.sqlstate, error_class: body.error_class }).toEqual(expected);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  // No stack trace, Python's or ours.
  expect(reply.text).not.toMatch(/Traceback|stack_trace|\n\s+at |\.[jt]s:\d+/);
  // No echo of the input: MLflow's "Failed to predict data '…'" and no value of the body.
  expect(body.message).not.toContain('Failed to predict data');
  for (const v of inputValues(probe.body)) expect(body.message).not.toContain(v);
  if (probe.body !== null && probe.body.length > 2) expect(body.message).not.toContain(probe.body);
  return body;
}

interface TensorPredictions {
  probabilities: number[][];
  label: number[];
}

interface RecordPrediction {
  probabilities: number[];
  label: number;
}

function argmax(v: readonly number[]): number {
  return v.indexOf(Math.max(...v));
}

function expectProbabilityRow(p: unknown, label: number): void {
  expect(Array.isArray(p)).toBe(true);
  const row = p as number[];
  expect(row).toHaveLength(3);
  expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  expect(argmax(row)).toBe(label);
}

/**
 * The exact success shape. With the tensor signature, enforcement turns every body (DataFrames
 * included) into one float64 (N, 4) tensor and the ONNX flavour returns its outputs by name, as
 * MLflow's ONNX wrapper does for an ndarray: `{"probabilities": [[…]], "label": […]}`. With the
 * column signature the input stays a DataFrame, and the outputs (N×3 probabilities, N labels)
 * come back as one record per row, where MLflow's `reshape(-1)` of unequal outputs would crash.
 */
function expectPredictions(variant: Variant, reply: Reply, classes: readonly number[]): void {
  expect(reply.headers.get('content-type')).toBe('application/json');
  expect(reply.text.startsWith('{"predictions": ')).toBe(true); // json.dumps spacing, as MLflow writes it
  const body = JSON.parse(reply.text) as { predictions: unknown };
  expect(Object.keys(body)).toEqual(['predictions']);
  if (variant === 'tensor') {
    const p = body.predictions as TensorPredictions;
    expect(Object.keys(p)).toEqual(['probabilities', 'label']);
    expect(p.label).toEqual(classes);
    expect(p.probabilities).toHaveLength(classes.length);
    p.probabilities.forEach((row, i) => expectProbabilityRow(row, classes[i]));
  } else {
    const records = body.predictions as RecordPrediction[];
    expect(Array.isArray(records)).toBe(true);
    expect(records.map((r) => Object.keys(r))).toEqual(classes.map(() => ['probabilities', 'label']));
    expect(records.map((r) => r.label)).toEqual(classes);
    records.forEach((r, i) => expectProbabilityRow(r.probabilities, classes[i]));
  }
}

let root: string;
const servers: Partial<Record<Variant | 'failing', RunningServer>> = {};

beforeAll(async () => {
  // The always-failing model makes onnxruntime print its own error to stderr; keep the test output clean.
  ort.env.logLevel = 'fatal';
  root = await mkdtemp(join(tmpdir(), 'modelgate-replay-'));
  const { weights, bias } = trainIrisLogReg();
  const onnx = irisClassifier({ weights, bias, inputDtype: 'float64', label: true });
  for (const variant of ['tensor', 'columns'] as const) {
    const dir = join(root, `iris-${variant}`);
    await writeModelDir(dir, variant, onnx);
    servers[variant] = await serveModelDir(dir, root);
  }
  const failing = join(root, 'failing');
  await mkdir(failing);
  await writeFile(join(failing, 'model.onnx'), alwaysFailingModel());
  servers.failing = await serveModelDir(failing, root);
});

afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s?.close()));
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('the probe fixture', () => {
  it('holds every probe of the recording once, and names the MLflow source of every other probe', () => {
    const names = SCORING_PROBES.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toHaveLength(28);
    const all = [...names, ...MLFLOW_3_PROBES.map((p) => p.name)];
    expect(new Set(all).size).toBe(all.length);
    for (const p of MLFLOW_3_PROBES) expect(p.source.length, p.name).toBeGreaterThan(20);
  });

  it("quotes only parts of MLflow's messages as shared text, and gives a reason for every difference", () => {
    for (const p of [...SCORING_PROBES, ...MLFLOW_3_PROBES]) {
      for (const outcome of [p.tensor, p.columns] as ProbeOutcome[]) {
        for (const part of outcome.sharedMessage ?? []) expect(outcome.mlflow.message, p.name).toContain(part);
        expect(outcome.modelgate === undefined, p.name).toBe(outcome.deliberate === undefined);
      }
    }
  });

  it('agrees with the classes of the recorded batch', () => {
    const batch3 = SCORING_PROBES.find((p) => p.name === 'POST inputs batch3');
    expect(batch3?.tensor.mlflow.predictions).toEqual(IRIS_ROW_CLASSES);
    expect(JSON.parse(batch3?.body ?? 'null')).toEqual({ inputs: IRIS_ROWS });
  });
});

describe.each(['tensor', 'columns'] as const)('MLflow replay, %s signature', (variant) => {
  const port = (): number => (servers[variant] as RunningServer).port;

  [...SCORING_PROBES, ...MLFLOW_3_PROBES].forEach((probe, i) => {
    const outcome = probe[variant];
    const expected = expectedResult(outcome);
    const title = outcome.deliberate === undefined ? probe.name : `${probe.name} (deliberately ${expected.status}: ${outcome.deliberate})`;

    it(title, async () => {
      const id = `replay-${variant}-${i}`;
      const reply = await send(port(), probe, id);
      expect(reply.status).toBe(expected.status);
      if (expected.allow !== undefined) expect(reply.headers.get('allow')).toBe(expected.allow);
      if (expected.error_code !== undefined) {
        const body = expectCleanErrorBody(reply, probe, { sqlstate: expected.sqlstate, error_class: expected.error_class });
        expect(body.error_code).toBe(expected.error_code);
        expect(reply.headers.get('x-request-id')).toBe(id);
        for (const part of outcome.sharedMessage ?? []) expect(body.message).toContain(part);
      } else if (expected.predictions !== undefined) {
        expectPredictions(variant, reply, expected.predictions);
      } else {
        // /ping, /health, /version: MLflow's status; modelgate's body is a JSON object (see the probe's note).
        expect(expected.status).toBe(200);
        expect(outcome.note).toBeDefined();
        expect(reply.headers.get('content-type')).toBe('application/json');
        const body = JSON.parse(reply.text) as { ready?: boolean };
        expect(typeof body).toBe('object');
        if (probe.path !== '/version') expect(body).toMatchObject({ ready: true, state: 'ready' });
      }
    });
  });

  it('scores the serving_input_example.json it was given, like MLflow logs it', async () => {
    const dir = join(root, `iris-${variant}`);
    const body = await readFile(join(dir, 'serving_input_example.json'), 'utf8');
    const reply = await send(port(), { method: 'POST', path: '/invocations', contentType: 'application/json', body });
    expect(reply.status).toBe(200);
    expectPredictions(variant, reply, IRIS_ROW_CLASSES);
  });
});

describe('error bodies on 5xx', () => {
  /** A well-formed body the always-failing model cannot compute. */
  const FAILING_PROBE = {
    method: 'POST',
    path: '/invocations',
    contentType: 'application/json',
    body: '{"inputs": [[1.25, 2.5, 3.75]]}',
  } as const;

  it('a model failure is a 500 with error_code, a generic message and the request id, nothing from the runtime', async () => {
    const port = (servers.failing as RunningServer).port;
    const reply = await send(port, FAILING_PROBE);
    expect(reply.status).toBe(500);
    const body = expectCleanErrorBody(reply, FAILING_PROBE, { sqlstate: 'XXM00', error_class: 'CLIENT_INTERNAL_ERROR' });
    expect(body.error_code).toBe('INTERNAL_ERROR');
    expect(body.message).toBe('The model failed while computing the prediction.');
    expect(body.request_id).toBe(reply.headers.get('x-request-id'));
    expect(reply.text).not.toMatch(/Reshape|onnxruntime|ONNXRuntimeError/i);
  });

  it("a caller's x-request-id is the request_id of a 500", async () => {
    const port = (servers.failing as RunningServer).port;
    const reply = await send(port, FAILING_PROBE, 'caller-chosen-id.1');
    expect(reply.status).toBe(500);
    expect((JSON.parse(reply.text) as { request_id: string }).request_id).toBe('caller-chosen-id.1');
  });
});

describe('/ping and /health mean "ready to serve", as in MLflow (its server listens only once the model is loaded)', () => {
  it('answers 503 with the readiness state while the model loads, 200 once it is loaded; /livez is 200 throughout', async () => {
    const dir = join(root, 'slow-load');
    const flag = join(root, 'slow-load.go');
    await mkdir(dir);
    // A JS model whose load waits for the test to create a file: the server listens meanwhile.
    await writeFile(
      join(dir, 'model.mjs'),
      [
        "import { existsSync } from 'node:fs';",
        'export function load() {',
        '  return new Promise((resolve) => {',
        `    const t = setInterval(() => { if (existsSync(${JSON.stringify(flag)})) { clearInterval(t); resolve({ predict: (rows) => rows.map((r) => r.x * 2) }); } }, 10);`,
        '  });',
        '}',
      ].join('\n'),
    );
    await writeFile(
      join(dir, 'MLmodel'),
      `flavors:\n  js:\n    module: model.mjs\nsignature:\n  inputs: '[{"type": "double", "name": "x", "required": true}]'\n  outputs: null\n  params: null\n`,
    );
    const config = resolveServeConfig({
      modelUri: dir,
      registryUri: `file:${join(root, 'registry')}`,
      port: 0,
      host: '127.0.0.1',
      drainSeconds: 1,
      shutdownGraceSeconds: 0,
    });
    const server = await startServer(config, silentLogger());
    try {
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      for (const path of ['/ping', '/health', '/ready']) {
        const r = await get(path);
        expect(r.status, path).toBe(503);
        expect(r.body, path).toMatchObject({ ready: false, state: 'loading' });
      }
      expect(await get('/livez')).toEqual({ status: 200, body: { status: 'ok' } });
      expect((await get('/v2/health/live')).status).toBe(200);
      await writeFile(flag, '');
      await server.loaded;
      for (const path of ['/ping', '/health', '/ready']) {
        const r = await get(path);
        expect(r.status, path).toBe(200);
        expect(r.body, path).toMatchObject({ ready: true, state: 'ready' });
      }
      expect((await get('/livez')).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
