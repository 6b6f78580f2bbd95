/**
 * Preprocessing converters beyond the parity rows (which test/sklearn/parity.test.ts runs for
 * every prep-* fixture): rows holding a float NaN in a string column (what pandas reads from an
 * empty CSV field; the HTTP codecs never produce one, so the rows go to the model directly),
 * None versus NaN as scikit-learn tells them apart, and the settings refused at load.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { compileSklearn } from '../../src/flavors/sklearn/compile.js';
import { NdArray, PyDict, PyGlobal, type PyObject, type PyTuple, loadPickle } from '../../src/flavors/sklearn/pickle/index.js';
import type { ModelInput, ModelOutput } from '../../src/schema/model-io.js';
import { objectColumn } from '../../src/schema/model-io.js';
import type { ServableModel } from '../../src/core/servable.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { type Expected, SKLEARN_FIXTURES, expectSame, loadDir, readExpected, withPredictFn } from './helpers.js';

const temp = tempDirs();
const loaded: ServableModel[] = [];
afterAll(async () => {
  await Promise.all(loaded.map((s) => s.model.unload()));
  await temp.removeAll();
});

async function servable(dir: string, method?: string): Promise<ServableModel> {
  const s = await loadDir(method === undefined ? dir : await withPredictFn(dir, method, temp));
  loaded.push(s);
  return s;
}

function frame(columns: string[], rows: unknown[][]): ModelInput {
  const values = columns.map((_, j) => objectColumn(rows.map((r) => r[j])));
  return { kind: 'dataframe', value: { columns, values, rows: rows.length } };
}

/** A tensor output as nested lists (int64 labels as numbers), as the JSON response would hold it. */
function rowsOf(out: ModelOutput): unknown[] {
  if (out.kind !== 'tensor') throw new Error(`unexpected ${out.kind} output`);
  const data = Array.from(out.value.data as ArrayLike<unknown>, (v) => (typeof v === 'bigint' ? Number(v) : v));
  if (out.value.shape.length === 1) return data;
  const w = out.value.shape[1];
  return Array.from({ length: out.value.shape[0] }, (_, r) => data.slice(r * w, (r + 1) * w));
}

type WithNaN = Expected & { nan_in_strings?: Expected };

const PREP = ['prep-impute', 'prep-onehot', 'prep-ordinal', 'prep-union-logreg', 'prep-ordinal-forest'].flatMap((f) => [
  `${f}-sk12`,
  `${f}-sk19`,
]);

describe.each(PREP)('%s: a float NaN in a string column', (name) => {
  const dir = join(SKLEARN_FIXTURES, name);

  for (const method of ['predict', 'predict_proba'] as const) {
    it(`${method} equals scikit-learn's, and the rows it refuses are refused`, async (t) => {
      const expected = ((await readExpected(dir)) as WithNaN).nan_in_strings;
      if (expected === undefined || expected[method] === undefined) t.skip();
      const nan = expected as Expected;
      const s = await servable(dir, method);
      expectSame(rowsOf(await s.model.predict(frame(nan.columns, nan.data), {})), nan[method]);
      for (const { row, error } of nan.rejected) {
        const err = await s.model.predict(frame(nan.columns, [row]), {}).catch((e: unknown) => e);
        expect(err, `${JSON.stringify(row)} (${error})`).toBeInstanceOf(GatewayError);
        expect((err as GatewayError).status).toBe(400);
      }
    });
  }
});

describe('None and NaN in a string column (prep-impute: SimpleImputer(most_frequent) then OneHotEncoder(ignore))', () => {
  const dir = join(SKLEARN_FIXTURES, 'prep-impute-sk19');
  const colorImputer = () => {
    const ct = stepOf(loadPickle(readFileSync(join(dir, 'model.pkl'))) as PyObject, 0);
    return stepOf(transformer(ct, 'color'), 0);
  };

  it('imputes NaN, not None: None reaches the encoder as an unknown category', async () => {
    const mostFrequent = (stateOf(colorImputer()).get('statistics_') as NdArray).data[0] as string;
    const expected = await readExpected(dir);
    const base = [...expected.data[0]];
    const at = expected.columns.indexOf('color');
    const row = (v: unknown) => base.map((c, j) => (j === at ? v : c));
    const s = await servable(dir);
    const [none, nan, frequent, unseen] = rowsOf(
      await s.model.predict(frame(expected.columns, [row(null), row(NaN), row(mostFrequent), row('mauve')]), {}),
    );
    expect(nan).toEqual(frequent);
    expect(none).toEqual(unseen);
    expect(none).not.toEqual(frequent);
  });
});

// ---- tampered pickles: settings without an exact conversion are refused at load ----

function stateOf(obj: PyObject): PyDict {
  return obj.dict as PyDict;
}

function stepOf(pipeline: PyObject, i: number): PyObject {
  return ((stateOf(pipeline).get('steps') as PyTuple[])[i] as PyTuple).items[1] as PyObject;
}

function transformer(ct: PyObject, name: string): PyObject {
  const found = (stateOf(ct).get('transformers_') as PyTuple[]).find((t) => t.items[0] === name);
  if (found === undefined) throw new Error(`no transformer '${name}'`);
  return found.items[1] as PyObject;
}

function fixture(name: string): { model: PyObject; pre: PyObject } {
  const model = loadPickle(readFileSync(join(SKLEARN_FIXTURES, name, 'model.pkl'))) as PyObject;
  return { model, pre: stepOf(model, 0) };
}

function refusal(name: string, tamper: (pre: PyObject, model: PyObject) => void): () => unknown {
  const { model, pre } = fixture(name);
  tamper(pre, model);
  return () => compileSklearn(model, 'predict');
}

describe('refused at load', () => {
  it('encoders: float32 / narrow output dtypes, unknown handle_unknown, widths that disagree with the pickle', () => {
    expect(
      refusal('prep-onehot-sk19', (pre) => stateOf(transformer(pre, 'if_binary')).set('dtype', new PyGlobal('numpy', 'float32'))),
    ).toThrow(/transformers_\[5\] \(sklearn\.preprocessing\._encoders\.OneHotEncoder\): dtype float32 is not supported/);
    expect(refusal('prep-ordinal-sk12', (pre) => stateOf(transformer(pre, 'numeric')).set('dtype', new PyGlobal('numpy', 'int8')))).toThrow(
      /OrdinalEncoder\): dtype int8 is not supported/,
    );
    expect(
      refusal('prep-ordinal-sk19', (pre) => stateOf(transformer(pre, 'unknown')).set('handle_unknown', 'infrequent_if_exist')),
    ).toThrow(/handle_unknown 'infrequent_if_exist' is not supported/);
    expect(refusal('prep-onehot-sk12', (pre) => stateOf(transformer(pre, 'explicit_drop')).set('_n_features_outs', [5, 6]))).toThrow(
      /output widths \[5, 5\] differ from _n_features_outs \[5, 6\]/,
    );
    const outside = new PyDict();
    outside.set(0, 40);
    expect(refusal('prep-ordinal-sk19', (pre) => stateOf(transformer(pre, 'missing')).set('_missing_indices', outside))).toThrow(
      /_missing_indices points outside categories_\[0\]/,
    );
  });

  it('scalers, normalizer, polynomial features, PCA', () => {
    expect(refusal('prep-scalers-sk19', (pre) => stateOf(transformer(pre, 'l1')).set('norm', 'l3'))).toThrow(/norm 'l3' is not supported/);
    expect(refusal('prep-scalers-sk12', (pre) => stateOf(transformer(pre, 'minmax_clip')).set('feature_range', [2, 1]))).toThrow(
      /feature_range is not a \(min, max\) pair/,
    );
    expect(refusal('prep-scalers-sk12', (pre) => stateOf(transformer(pre, 'robust')).set('n_features_in_', 4))).toThrow(
      /fitted on 4 features but receives 3/,
    );
    expect(refusal('prep-poly-pca-sk19', (pre) => stateOf(transformer(pre, 'poly2')).set('_n_out_full', 11))).toThrow(
      /it builds 10 terms, _n_out_full says 11/,
    );
    expect(refusal('prep-poly-pca-sk19', (pre) => stateOf(transformer(pre, 'poly2')).set('n_output_features_', 10 ** 6))).toThrow(
      /it outputs 1000000 features, more than 100000/,
    );
    const wrong = new NdArray();
    wrong.dtype = (stateOf(transformer(fixture('prep-poly-pca-sk19').pre, 'pca')).get('components_') as NdArray).dtype;
    wrong.shape = [2, 3];
    wrong.data = new Float64Array(6);
    expect(refusal('prep-poly-pca-sk19', (pre) => stateOf(transformer(pre, 'pca')).set('components_', wrong))).toThrow(
      /components_ has shape \(2, 3\), expected \(k, 4\)/,
    );
  });

  it('imputers: a None marker in numeric data, an unknown strategy', () => {
    expect(refusal('prep-impute-sk19', (pre) => stateOf(transformer(pre, 'median')).set('missing_values', null))).toThrow(
      /it imputes a string or None marker in numeric data/,
    );
    expect(refusal('prep-impute-sk12', (pre) => stateOf(transformer(pre, 'median')).set('strategy', 'knn'))).toThrow(
      /strategy 'knn' is not supported/,
    );
  });

  it('FeatureUnion: weights that are not a dict of numbers, string columns passed through', () => {
    const union = (model: PyObject) => stepOf(model, 1);
    expect(refusal('prep-union-logreg-sk19', (_, m) => stateOf(union(m)).set('transformer_weights', [1, 2]))).toThrow(
      /transformer_weights is not a dict keyed by transformer name/,
    );
    const weights = new PyDict();
    weights.set('pca', 'heavy');
    expect(refusal('prep-union-logreg-sk12', (_, m) => stateOf(union(m)).set('transformer_weights', weights))).toThrow(
      /transformer_weights\['pca'\] is not a number/,
    );
  });
});
