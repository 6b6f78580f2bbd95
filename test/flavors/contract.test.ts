/** Every flavour against the shared contract (test/contract/flavor.contract.ts). */
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';
import { IRIS_CLASS_NAMES } from '../../tools/iris/iris-data.js';
import { IRIS_LAYERS, MULTI_IO, denseForward, multiIoForward } from '../../tools/tfjs/models.js';
import { GRAPH_WEIGHTS } from '../../tools/tfjs/models.js';
import { runFlavorContract } from '../contract/flavor.contract.js';
import { IRIS_ROWS, MULTI_IO_EXAMPLE, ModelDirs } from '../fixtures/flavor-models.js';

const dirs = new ModelDirs();
afterAll(() => dirs.cleanup());

/** Predictions against a float64 reference, to float32 precision. */
function expectClose(actual: unknown, expected: ArrayLike<number>, width: number): void {
  const rows = actual as number[][];
  expect(rows.length * width).toBe(expected.length);
  rows.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(expected[r * width + c], 5)));
}

runFlavorContract({
  name: 'ONNX (iris demo)',
  makeModelDir: async () => fileURLToPath(new URL('../../examples/iris', import.meta.url)),
  checkPredictions: (p) => expect((p as { label: number[] }).label).toEqual([0, 1, 2]),
});

runFlavorContract({
  name: 'TF.js LayersModel (5 shards)',
  makeModelDir: () => dirs.tfjsLayers(),
  checkPredictions: (p) => expectClose(p, denseForward(IRIS_LAYERS, IRIS_ROWS.flat(), 3), 3),
});

runFlavorContract({
  name: 'TF.js GraphModel (hand-written MatMul+BiasAdd+Softmax)',
  makeModelDir: () => dirs.tfjsGraph(),
  checkPredictions: (p) => expectClose(p, denseForward([GRAPH_WEIGHTS], IRIS_ROWS.flat(), 3), 3),
});

runFlavorContract({
  name: 'TF.js multi-input, multi-output LayersModel',
  makeModelDir: () => dirs.tfjsMultiIo(),
  checkPredictions: (p) => {
    const out = p as { probs: number[][]; score: number[][] };
    expect(Object.keys(out)).toEqual(['probs', 'score']);
    MULTI_IO_EXAMPLE.a.forEach((a, r) => {
      const want = multiIoForward(a, MULTI_IO_EXAMPLE.b[r]);
      expectClose([out.probs[r]], want.probs, MULTI_IO.probs.outSize);
      expectClose([out.score[r]], want.score, 1);
    });
  },
});

runFlavorContract({
  name: 'JS model with state (iris nearest centroid)',
  makeModelDir: () => dirs.jsCentroid(),
  checkPredictions: (p) => expect(p).toEqual([...IRIS_CLASS_NAMES]),
});
