/**
 * The onnxruntime-node baseline: the model's first input as one float32 [rows, width] tensor, from
 * `{"inputs": [[…], …]}` JSON or from CSV (`text/csv`: a header line, then one row of numbers per
 * line, split on commas, nothing quoted), and every output flattened into
 * `{"predictions": {name: […]}}`. The session options are modelgate's defaults (one intra-op
 * thread, sequential).
 *
 *   node dist/bench/baselines/onnx.js <model.onnx> [port]
 */
import * as ort from 'onnxruntime-node';
import { type Baseline, baselineMain, listenBaseline } from './http.js';

function jsonRows(text: string, width: number): [Float32Array, number] {
  const rows = (JSON.parse(text) as { inputs: number[][] }).inputs;
  const data = new Float32Array(rows.length * width);
  let k = 0;
  for (const r of rows) for (const x of r) data[k++] = x;
  return [data, rows.length];
}

function csvRows(text: string, width: number): [Float32Array, number] {
  const lines = text.split('\n');
  const data = new Float32Array((lines.length - 1) * width);
  let k = 0;
  let rows = 0;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const cells = lines[i].split(',');
    for (let c = 0; c < width; c++) data[k++] = Number(cells[c]);
    rows++;
  }
  return [data.subarray(0, k), rows];
}

export async function startOnnxBaseline(modelPath: string, port = 0): Promise<Baseline> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const input = session.inputNames[0];
  const meta = session.inputMetadata[0];
  const width = Number(meta.isTensor ? meta.shape[1] : 0);
  return listenBaseline(
    async (body, contentType) => {
      const text = body.toString();
      const [data, rows] = contentType?.startsWith('text/csv') ? csvRows(text, width) : jsonRows(text, width);
      const out = await session.run({ [input]: new ort.Tensor('float32', data, [rows, width]) });
      const predictions: Record<string, number[]> = {};
      for (const [name, t] of Object.entries(out)) predictions[name] = Array.from(t.data as ArrayLike<number | bigint>, Number);
      return JSON.stringify({ predictions });
    },
    port,
    () => session.release(),
  );
}

await baselineMain(import.meta.url, startOnnxBaseline);
