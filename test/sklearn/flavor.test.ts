/**
 * The sklearn flavour as the server sees it: MLflow's own wine-logreg directory answers what
 * `mlflow models serve` answered, the flavour is chosen for sklearn MLmodels, and inputs map onto
 * the pipeline's columns as pandas and scikit-learn would map them.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { flavorFor } from '../../src/flavors/index.js';
import { sklearnFlavor } from '../../src/flavors/sklearn/index.js';
import { parseMLModel } from '../../src/model/mlmodel.js';
import type { ServableModel } from '../../src/core/servable.js';
import { scoreBody } from '../../src/core/scoring.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { SKLEARN_FIXTURES, WINE_LOGREG, expectSame, loadDir, parsePredictions, readExpected } from './helpers.js';

const loaded: ServableModel[] = [];
const temp = tempDirs();
afterAll(async () => {
  await Promise.all(loaded.map((s) => s.model.unload()));
  await temp.removeAll();
});
async function load(dir: string): Promise<ServableModel> {
  const s = await loadDir(dir);
  loaded.push(s);
  return s;
}

describe("MLflow's wine-logreg-sklearn (StandardScaler + LogisticRegression, cloudpickle, 1.2)", () => {
  it('answers its serving example with the exact response mlflow models serve gave', async () => {
    const servable = await load(WINE_LOGREG);
    const body = await readFile(join(WINE_LOGREG, 'serving_input_example.json'), 'utf8');
    const want = await readFile(join(WINE_LOGREG, 'mlflow-response.json'), 'utf8');
    expect(await scoreBody(servable, 'application/json', body)).toBe(want.trim());
    expect(servable.model.info).toMatchObject({ runtime: 'onnxruntime', estimator: 'sklearn.pipeline.Pipeline', sklearnVersion: '1.2.1' });
    expect(servable.model.batchable).toBe(true);
  });

  it('gives the same labels as scikit-learn in expected.json', async () => {
    const expected = JSON.parse(await readFile(join(WINE_LOGREG, 'expected.json'), 'utf8')) as {
      request: unknown;
      predictions_by_library: unknown;
    };
    const servable = await load(WINE_LOGREG);
    expect(parsePredictions(await scoreBody(servable, 'application/json', JSON.stringify(expected.request)))).toEqual(
      expected.predictions_by_library,
    );
  });
});

describe('choosing the flavour', () => {
  it('takes MLmodels with an sklearn flavour or a python_function whose loader_module is mlflow.sklearn', () => {
    expect(sklearnFlavor.canLoad(parseMLModel('flavors:\n  sklearn:\n    pickled_model: model.pkl\n'))).toBe(true);
    expect(sklearnFlavor.canLoad(parseMLModel('flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n'))).toBe(true);
    expect(sklearnFlavor.canLoad(parseMLModel('flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n'))).toBe(false);
    expect(flavorFor(parseMLModel('flavors:\n  sklearn: {}\n')).name).toBe('sklearn');
  });

  it('refuses predict_fn values other than predict, predict_proba and predict_log_proba, and skops files', async () => {
    const ctx = (yaml: string) => ({
      dir: WINE_LOGREG,
      mlmodel: parseMLModel(yaml),
      config: {},
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as never,
      options: {},
    });
    await expect(
      sklearnFlavor.load(ctx('flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    predict_fn: decision_function\n')),
    ).rejects.toThrow(/predict_fn 'decision_function' is not supported/);
    await expect(sklearnFlavor.load(ctx('flavors:\n  sklearn:\n    serialization_format: skops\n'))).rejects.toThrow(
      /serialization_format 'skops'/,
    );
  });
});

describe('the MLmodel signature against the pipeline', () => {
  async function withSignature(edit: (mlmodel: string) => string): Promise<string> {
    const copy = await temp.make('modelgate-sk-sig-');
    await cp(join(SKLEARN_FIXTURES, 'census-logreg-sk12'), copy, { recursive: true });
    await writeFile(join(copy, 'MLmodel'), edit(await readFile(join(copy, 'MLmodel'), 'utf8')));
    return copy;
  }

  it('refuses a column typed as a string that the pipeline reads as numbers, and the reverse', async () => {
    const ageAsString = await withSignature((m) => m.replace('{"type": "double", "name": "age"', '{"type": "string", "name": "age"'));
    await expect(loadDir(ageAsString)).rejects.toThrow(/column age is 'string', the model reads it as numbers/);
    const sexAsDouble = await withSignature((m) => m.replace('{"type": "string", "name": "sex"', '{"type": "double", "name": "sex"'));
    await expect(loadDir(sexAsDouble)).rejects.toThrow(/column sex is 'double', the model reads it as strings/);
  });

  it('refuses a signature that lacks a column the pipeline reads', async () => {
    const renamed = await withSignature((m) => m.replace('"name": "age"', '"name": "years"'));
    await expect(loadDir(renamed)).rejects.toThrow(/lacks column 'age', which the model reads/);
  });
});

describe('inputs as pandas and scikit-learn see them', () => {
  const census = join(SKLEARN_FIXTURES, 'census-rf-sk19');
  let servable: ServableModel;
  beforeAll(async () => {
    servable = await load(census);
  });

  it('maps DataFrame columns by name, in any order', async () => {
    const expected = await readExpected(census);
    const order = [...expected.columns].reverse();
    const data = expected.data.slice(0, 20).map((row) => order.map((c) => row[expected.columns.indexOf(c)]));
    const got = parsePredictions(
      await scoreBody(servable, 'application/json', JSON.stringify({ dataframe_split: { columns: order, data } })),
    );
    expectSame(got, expected.predict.slice(0, 20));
  });

  it('refuses a request that lacks a column the pipeline was fitted with (even an optional one), naming it', async () => {
    const records = [{ workclass: 'Private', education: 'Masters', sex: 'Male', hours_per_week: 40, capital_gain: 0 }];
    const err = (await scoreBody(servable, 'application/json', JSON.stringify({ dataframe_records: records })).catch(
      (e: unknown) => e,
    )) as GatewayError;
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.status).toBe(400);
    expect(err.message).toContain("'age'");
  });

  it('without a signature, takes a 2-D array by position (as scikit-learn does, with a warning), refusing the wrong width', async () => {
    const copy = await temp.make('modelgate-sk-nosig-');
    await cp(join(SKLEARN_FIXTURES, 'iris-tree-autolog-sk12'), copy, { recursive: true });
    const mlmodel = await readFile(join(copy, 'MLmodel'), 'utf8');
    await writeFile(join(copy, 'MLmodel'), mlmodel.replace(/^signature:\n(?: {2}.*\n|\s{4}.*\n)*/m, ''));
    const iris = await load(copy);
    expect(iris.signature?.inputs).toBeUndefined();
    expect(parsePredictions(await scoreBody(iris, 'application/json', '{"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'))).toEqual(
      [0, 2],
    );
    await expect(scoreBody(iris, 'application/json', '{"inputs": [[5.1, 3.5, 1.4]]}')).rejects.toThrow(GatewayError);
  });

  it('returns string class labels as strings', async () => {
    const expected = await readExpected(census);
    const got = parsePredictions(
      await scoreBody(
        servable,
        'application/json',
        JSON.stringify({ dataframe_split: { columns: expected.columns, data: expected.data.slice(0, 5) } }),
      ),
    );
    expect((got as unknown[]).every((v) => typeof v === 'string')).toBe(true);
  });
});
