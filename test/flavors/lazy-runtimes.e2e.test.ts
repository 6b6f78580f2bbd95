/**
 * Heavy runtimes load only when a model of their flavour does: an ONNX-only process never loads
 * TF.js. In the e2e tier, whose files each get a fresh process: the unit tier shares one module
 * graph per worker, where another file has loaded TF.js first.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import * as modelgate from '../../src/index.js';

const loadedPackages = (pattern: RegExp) => Object.keys(createRequire(import.meta.url).cache).filter((p) => pattern.test(p));

it('serves an ONNX model without loading any TF.js package', async () => {
  expect(modelgate.listFlavors().map((f) => f.name)).toEqual(expect.arrayContaining(['onnx', 'tfjs', 'js']));
  const iris = fileURLToPath(new URL('../../examples/iris', import.meta.url));
  // In this thread: a session placed in a thread of its own (auto does that when creation is slow,
  // as on a loaded machine) loads onnxruntime into that thread's module cache, not this one's.
  const s = await modelgate.loadModel(iris, modelgate.openRegistry('file:./unused-registry'), { flavor: { onnxIsolation: 'none' } });
  try {
    expect(await modelgate.scoreBody(s, 'application/json', '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}')).toContain('"label": [0]');
  } finally {
    await s.model.unload();
  }
  expect(loadedPackages(/onnxruntime-node/).length).toBeGreaterThan(0);
  expect(loadedPackages(/@tensorflow/)).toEqual([]);
});
