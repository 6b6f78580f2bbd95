import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { demoModelFiles, pythonJson, writeDemoModel } from '../../tools/make-demo-model.js';

const COMMITTED = fileURLToPath(new URL('../../examples/iris/', import.meta.url));

describe('examples/iris', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'modelgate-iris-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('regenerates byte-identically (run `node dist/tools/make-demo-model.js` if this fails after a deliberate change)', () => {
    const written = writeDemoModel(tmp);
    expect(readdirSync(COMMITTED).sort()).toEqual([...written].sort());
    for (const name of written) {
      expect(readFileSync(join(tmp, name)).equals(readFileSync(join(COMMITTED, name))), name).toBe(true);
    }
  });

  it('is deterministic within a process', () => {
    expect(demoModelFiles()).toEqual(demoModelFiles());
  });

  it('has an MLmodel whose signature matches the ONNX graph', async () => {
    const mlmodel = parse(readFileSync(join(COMMITTED, 'MLmodel'), 'utf8'));
    expect(mlmodel.flavors.onnx).toMatchObject({ data: 'model.onnx', providers: ['CPUExecutionProvider'] });
    expect(mlmodel.flavors.python_function).toEqual({ data: 'model.onnx', loader_module: 'mlflow.onnx' });
    expect(mlmodel.utc_time_created).toBe('2026-01-01 00:00:00.000000');
    expect(mlmodel.model_uuid).toMatch(/^[0-9a-f]{32}$/);
    expect(mlmodel.saved_input_example_info).toEqual({
      artifact_path: 'input_example.json',
      serving_input_path: 'serving_input_example.json',
      type: 'ndarray',
    });
    const inputs = JSON.parse(mlmodel.signature.inputs);
    const outputs = JSON.parse(mlmodel.signature.outputs);
    expect(inputs).toEqual([{ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 4] }, name: 'input' }]);
    expect(outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities', 'label']);
    expect(mlmodel.signature.params).toBeNull();

    const onnx = readFileSync(join(COMMITTED, 'model.onnx'));
    expect(mlmodel.model_size_bytes).toBe(onnx.length);
    const session = await ort.InferenceSession.create(onnx);
    expect(session.inputMetadata).toEqual([{ name: 'input', isTensor: true, type: 'float32', shape: ['N', 4] }]);
    expect(session.outputNames).toEqual(['probabilities', 'label']);

    const example: number[][] = JSON.parse(readFileSync(join(COMMITTED, 'input_example.json'), 'utf8'));
    const serving = JSON.parse(readFileSync(join(COMMITTED, 'serving_input_example.json'), 'utf8'));
    expect(serving).toEqual({ inputs: example });
    const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(example.flat()), [3, 4]) });
    expect([...(out.label.data as BigInt64Array)]).toEqual([0n, 1n, 2n]);
  });
});

describe('pythonJson', () => {
  it('formats like json.dumps', () => {
    expect(pythonJson([{ a: [1, -1], b: 'x"y', c: null, d: true }])).toBe('[{"a": [1, -1], "b": "x\\"y", "c": null, "d": true}]');
    expect(pythonJson([[7, 0.25]], { floats: true })).toBe('[[7.0, 0.25]]');
    expect(pythonJson({ k: [1, 2], e: [] }, { indent: 2 })).toBe('{\n  "k": [\n    1,\n    2\n  ],\n  "e": []\n}');
  });
});
