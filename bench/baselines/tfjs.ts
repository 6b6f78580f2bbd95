/**
 * The TF.js baseline: a LayersModel directory (model.json + weight shards) loaded through
 * `tf.io.fromMemory`, on the wasm backend as modelgate uses it in Node (SIMD, no threads, prod
 * mode); `{"inputs": [[…], …]}` becomes one float32 [rows, width] tensor, and the output is
 * flattened into `{"predictions": […]}`.
 *
 *   node dist/bench/baselines/tfjs.js <model-dir> [port]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadLayersModel } from '@tensorflow/tfjs-layers';
import { type Baseline, baselineMain, listenBaseline } from './http.js';

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

export async function startTfjsBaseline(modelDir: string, port = 0): Promise<Baseline> {
  setWasmPaths(`${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  tf.enableProdMode();
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend did not start');
  const json = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')) as ModelJson;
  const shards = json.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(join(modelDir, p))));
  const weightData = new Uint8Array(Buffer.concat(shards)).buffer;
  const model = await loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData }),
  );
  const width = Number(model.inputs[0].shape[1]);
  return listenBaseline(
    (body) => {
      const rows = (JSON.parse(body.toString()) as { inputs: number[][] }).inputs;
      const data = new Float32Array(rows.length * width);
      let k = 0;
      for (const r of rows) for (const x of r) data[k++] = x;
      const x = tf.tensor2d(data, [rows.length, width]);
      const y = model.predict(x) as tf.Tensor;
      const out = y.dataSync();
      x.dispose();
      y.dispose();
      return JSON.stringify({ predictions: Array.from(out) });
    },
    port,
    async () => {
      model.dispose();
    },
  );
}

await baselineMain(import.meta.url, startTfjsBaseline);
