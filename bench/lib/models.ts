/**
 * The models and request bodies the benchmark uses, built on demand in a scratch directory and
 * registered in a local registry there, so that running one scenario builds only what it needs.
 * Every model is also given to its baseline as a plain file or directory.
 */
import { copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CompiledLayout } from '../baselines/compiled.js';
import { type CompiledModel, compileSklearn } from '../../src/flavors/sklearn/index.js';
import type { PredictFn } from '../../src/flavors/sklearn/context.js';
import { loadPickle } from '../../src/flavors/sklearn/pickle/index.js';
import { compileXgboost } from '../../src/flavors/xgboost/index.js';
import { readMLModel } from '../../src/model/mlmodel.js';
import { saveModel } from '../../src/core/save.js';
import { openRegistry } from '../../src/core/registration.js';
import { BENCH_MLP_OPTIONS, benchMlp, mulberry32 } from '../../tools/onnx/models.js';
import { writeIrisLayersModel } from '../../tools/tfjs/models.js';
import { readFileSync } from 'node:fs';
import { ROOT } from './servers.js';

export interface BenchModel {
  /** What `modelgate serve -m` is given. */
  uri: string;
  /** What the baseline is given: the .onnx file, or the TF.js model directory. */
  baselineModel: string;
}

export const IRIS_COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;

/** `n` iris-like rows (sepal/petal lengths and widths in cm, one decimal), the same for a given seed. */
export function irisRows(n: number, seed = 1): number[][] {
  const rand = mulberry32(seed);
  const lo = [4.3, 2.0, 1.0, 0.1];
  const hi = [7.9, 4.4, 6.9, 2.5];
  return Array.from({ length: n }, () => lo.map((l, i) => Math.round((l + rand() * (hi[i] - l)) * 10) / 10));
}

export const inputsJson = (rows: readonly (readonly number[])[]): string => JSON.stringify({ inputs: rows });

/** A CSV as pandas' `DataFrame.to_csv(index=False)` writes it: a header line, then one line per row. */
export const irisCsv = (rows: readonly (readonly number[])[]): string =>
  `${IRIS_COLUMNS.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`;

/** `n` rows for the MLP's 256 inputs, in [-1, 1] with four decimals. */
export function mlpRows(n: number, seed = 1): number[][] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () =>
    Array.from({ length: BENCH_MLP_OPTIONS.inputSize }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4),
  );
}

/** The committed classic-ML models of bench/models (tools/bench/make_bench_models.py). */
export const CLASSIC_MODELS = { census: 'census-rf20-sk12', rf100: 'rf100-sk12', xgb300: 'xgb300' } as const;
export type ClassicModel = keyof typeof CLASSIC_MODELS;

/** The committed `dataframe_split` body of 1 or 1,000 rows for a classic model. */
export const classicBody = (model: ClassicModel, rows: 1 | 1000): string =>
  readFileSync(join(ROOT, 'bench', 'models', CLASSIC_MODELS[model], `bench-${rows}.json`), 'utf8');

/** The model directory compiled as modelgate's sklearn or xgboost flavour compiles it at load time. */
async function compileDir(dir: string): Promise<CompiledModel> {
  const mlmodel = await readMLModel(dir);
  if (mlmodel === undefined) throw new Error(`${dir} has no MLmodel`);
  const xgb = mlmodel.flavors.xgboost;
  if (xgb !== undefined) return (await compileXgboost({ dir, mlmodel, config: xgb })).compiled;
  const predictFn = (mlmodel.flavors.python_function?.predict_fn ?? 'predict') as PredictFn;
  return compileSklearn(loadPickle(new Uint8Array(await readFile(join(dir, 'model.pkl')))), predictFn);
}

function layoutOf(c: CompiledModel): CompiledLayout {
  const name = (i: number) => String(c.columns[i].name);
  const classes = c.output.classes?.data as ArrayLike<unknown> | undefined;
  return {
    numericColumns: c.numericColumns.map(name),
    stringColumns: c.stringColumns.map(name),
    inputNames: c.inputNames,
    output: c.output.name,
    ...(c.output.kind === 'label' && classes !== undefined
      ? { classes: Array.from(classes, (v) => (typeof v === 'bigint' ? Number(v) : (v as string | number))) }
      : {}),
  };
}

export class BenchModels {
  readonly registry: string;
  /** The environment `modelgate serve` needs to resolve the models' URIs. */
  readonly env: NodeJS.ProcessEnv;
  private readonly built = new Map<string, Promise<BenchModel>>();

  constructor(private readonly work: string) {
    this.registry = join(work, 'registry');
    this.env = { MODELGATE_REGISTRY_URI: this.registry };
  }

  private once(name: string, build: (dir: string) => Promise<string>): Promise<BenchModel> {
    let p = this.built.get(name);
    if (p === undefined) {
      p = (async () => {
        const dir = join(this.work, name);
        const baselineModel = await build(dir);
        await openRegistry(this.registry).register(dir, { name, alias: 'champion' });
        return { uri: `models:/${name}@champion`, baselineModel };
      })();
      this.built.set(name, p);
    }
    return p;
  }

  /** The bundled demo model (ONNX logistic regression, tensor signature [-1, 4]). */
  iris(): Promise<BenchModel> {
    return this.once('iris', async (dir) => {
      await mkdir(dir, { recursive: true });
      for (const f of ['MLmodel', 'model.onnx', 'input_example.json', 'serving_input_example.json']) {
        await copyFile(join(ROOT, 'examples', 'iris', f), join(dir, f));
      }
      return join(dir, 'model.onnx');
    });
  }

  /** The same ONNX graph with a column signature (four named double columns), as a CSV or DataFrame client sends. */
  irisColumns(): Promise<BenchModel> {
    return this.once('iris-columns', async (dir) => {
      await saveModel(dir, {
        flavor: 'onnx',
        model: join(ROOT, 'examples', 'iris', 'model.onnx'),
        signature: { inputs: IRIS_COLUMNS.map((name) => ({ type: 'double', name })) },
        inputExample: irisRows(1).map((r) => Object.fromEntries(IRIS_COLUMNS.map((c, i) => [c, r[i]]))),
      });
      return join(dir, 'model.onnx');
    });
  }

  /** The 1.3 M-parameter MLP of tools/onnx (256 → 1024 → 1024 → 10), signature inferred from the graph ([-1, 256]). */
  mlp(): Promise<BenchModel> {
    return this.once('mlp', async (dir) => {
      await saveModel(dir, { flavor: 'onnx', model: benchMlp(), inputExample: mlpRows(1) });
      return join(dir, 'model.onnx');
    });
  }

  /** An iris-sized TF.js LayersModel (4 → Dense 8 relu → Dense 3 softmax, tools/tfjs `IRIS_LAYERS`). */
  irisTfjs(): Promise<BenchModel> {
    return this.once('iris-tfjs', async (dir) => {
      const raw = `${dir}-raw`;
      await writeIrisLayersModel(raw);
      await saveModel(dir, { flavor: 'tfjs', model: raw, inputExample: irisRows(1) });
      return dir;
    });
  }

  /** A committed classic-ML model; the baseline gets the graph modelgate compiles from it, and its layout. */
  classic(model: ClassicModel): Promise<BenchModel> {
    return this.once(model, async (dir) => {
      await cp(join(ROOT, 'bench', 'models', CLASSIC_MODELS[model]), dir, { recursive: true });
      const compiled = await compileDir(dir);
      const onnx = `${dir}.onnx`;
      await writeFile(onnx, compiled.onnx);
      await writeFile(`${onnx}.layout.json`, JSON.stringify(layoutOf(compiled)));
      return onnx;
    });
  }
}
