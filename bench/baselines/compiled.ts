/**
 * The classic-ML baseline: onnxruntime-node running the very graph modelgate compiles from a
 * scikit-learn or XGBoost directory (the benchmark writes it with modelgate's own compile
 * functions, plus the column layout below), behind the bare node:http server of http.ts. It reads
 * `{"dataframe_split": {"columns", "data"}}` by column name into the graph's feeds (a float64
 * matrix, null → NaN; a string matrix and its None mask) and answers
 * `{"predictions": [...]}` (class labels or values), nothing more: no validation, no input checks
 * (the graph's check outputs are not fetched), no signature. The session options are modelgate's
 * for compiled graphs (one intra-op thread, sequential, NoopElimination off).
 *
 *   node dist/bench/baselines/compiled.js <model.onnx> [port]   (reads <model.onnx>.layout.json)
 */
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { type Baseline, baselineMain, listenBaseline } from './http.js';

/** What the baseline needs to know about the compiled graph's inputs and output. */
export interface CompiledLayout {
  /** The input column names, in the order of the graph's numeric and string inputs. */
  numericColumns: string[];
  stringColumns: string[];
  inputNames: { numeric?: string; strings?: { values: string; none: string } };
  output: string;
  /** For label outputs: the class of each index. */
  classes?: (string | number)[];
}

interface Frame {
  columns: string[];
  data: unknown[][];
}

function matrix(frame: Frame, names: string[]): { at: number[]; rows: number } {
  const pos = new Map(frame.columns.map((c, i) => [c, i]));
  return { at: names.map((n) => pos.get(n) ?? -1), rows: frame.data.length };
}

function feeds(layout: CompiledLayout, frame: Frame): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  const { numeric, strings } = layout.inputNames;
  if (numeric !== undefined) {
    const { at, rows } = matrix(frame, layout.numericColumns);
    const w = at.length;
    const data = new Float64Array(rows * w);
    for (let r = 0; r < rows; r++) {
      const row = frame.data[r];
      for (let j = 0; j < w; j++) data[r * w + j] = typeof row[at[j]] === 'number' ? (row[at[j]] as number) : NaN;
    }
    out[numeric] = new ort.Tensor('float64', data, [rows, w]);
  }
  if (strings !== undefined) {
    const { at, rows } = matrix(frame, layout.stringColumns);
    const w = at.length;
    const values = new Array<string>(rows * w);
    const none = new Uint8Array(rows * w);
    for (let r = 0; r < rows; r++) {
      const row = frame.data[r];
      for (let j = 0; j < w; j++) {
        const v = row[at[j]];
        values[r * w + j] = typeof v === 'string' ? v : '';
        none[r * w + j] = typeof v === 'string' ? 0 : 1;
      }
    }
    out[strings.values] = new ort.Tensor('string', values, [rows, w]);
    out[strings.none] = new ort.Tensor('bool', none, [rows, w]);
  }
  return out;
}

export async function startCompiledBaseline(modelPath: string, port = 0): Promise<Baseline> {
  const layout = JSON.parse(await readFile(`${modelPath}.layout.json`, 'utf8')) as CompiledLayout;
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: { optimization: { disable_specified_optimizers: 'NoopElimination' } },
  });
  const classes = layout.classes;
  return listenBaseline(
    async (body) => {
      const frame = (JSON.parse(body.toString()) as { dataframe_split: Frame }).dataframe_split;
      const result = (await session.run(feeds(layout, frame), [layout.output]))[layout.output];
      const data = result.data as ArrayLike<number | bigint>;
      const predictions = classes === undefined ? Array.from(data, Number) : Array.from(data as BigInt64Array, (i) => classes[Number(i)]);
      return JSON.stringify({ predictions });
    },
    port,
    () => session.release(),
  );
}

await baselineMain(import.meta.url, startCompiledBaseline);
