/**
 * Boosted trees and isolation forests beyond what the generic parity test checks: the raw
 * scores themselves (`decision_function`, `score_samples`, the init estimator's raw prediction)
 * against scikit-learn's on every fixture row, and the settings that are refused at load.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compileSklearn } from '../../src/flavors/sklearn/compile.js';
import type { CompileContext, Converter } from '../../src/flavors/sklearn/context.js';
import { gradientBoostingDecision, gradientBoostingInit } from '../../src/flavors/sklearn/converters/gradient-boosting.js';
import { histGradientBoostingDecision } from '../../src/flavors/sklearn/converters/hist-gradient-boosting.js';
import { CONVERTERS } from '../../src/flavors/sklearn/converters/index.js';
import { averagePathLength, isolationScores } from '../../src/flavors/sklearn/converters/isolation-forest.js';
import { buildFeeds } from '../../src/flavors/sklearn/feeds.js';
import {
  type NdArray,
  PyDict,
  PyGlobal,
  PyObject,
  type PyValue,
  UnsafePickleError,
  loadPickle,
} from '../../src/flavors/sklearn/pickle/index.js';
import { Estimator } from '../../src/flavors/sklearn/state.js';
import type { Value } from '../../src/flavors/sklearn/context.js';
import { objectColumn } from '../../src/schema/model-io.js';
import { type Expected, SKLEARN_FIXTURES, expectSame, readExpected } from './helpers.js';

interface Raw extends Expected {
  decision_function?: number[] | number[][];
  score_samples?: number[];
  raw_init?: number[];
}

type RawFn = (est: Estimator, input: Value, ctx: CompileContext) => string;

const FIXTURES = readdirSync(SKLEARN_FIXTURES).filter((d) => /^(gb|hgb|iforest)-/.test(d));

function model(name: string): PyObject {
  return loadPickle(readFileSync(join(SKLEARN_FIXTURES, name, 'model.pkl'))) as PyObject;
}

function state(obj: PyValue): PyDict {
  return (obj as PyObject).dict as PyDict;
}

/** A copy of `o` under another class name (to see what a converter makes of it). */
function renamed(o: PyObject, module: string, name: string): PyObject {
  const c = new PyObject(new PyGlobal(module, name), o.args, o.kwargs);
  c.state = o.state;
  return c;
}

/** Runs `raw` ([N, targets]) of the fixture's root estimator as the graph output on every expected row. */
async function rawOutput(name: string, raw: RawFn, targets = 1): Promise<{ got: number[] | number[][]; expected: Raw }> {
  const dir = join(SKLEARN_FIXTURES, name);
  const expected = (await readExpected(dir)) as Raw;
  const root = model(name);
  // decision_function ravels one-column scores.
  const value = (est: Estimator, input: Value, ctx: CompileContext) =>
    targets === 1 ? ctx.g.op('Reshape', [raw(est, input, ctx), ctx.g.int64([-1])]) : raw(est, input, ctx);
  const wrapped: Converter = { predict: (est, input, ctx) => ({ kind: 'regressor', targets, value: () => value(est, input, ctx) }) };
  const compiled = compileSklearn(root, 'predict', new Map([...CONVERTERS, [root.cls.path, wrapped]]));
  const rows = expected.data.length;
  const values = expected.columns.map((_, j) => objectColumn(expected.data.map((r) => r[j])));
  const f = buildFeeds(compiled, { kind: 'dataframe', value: { columns: expected.columns, values, rows } });
  const feeds: Record<string, ort.Tensor> = {};
  const names = compiled.inputNames;
  if (names.numeric !== undefined)
    feeds[names.numeric] = new ort.Tensor('float64', f.numeric as Float64Array, [rows, compiled.numericColumns.length]);
  if (names.strings !== undefined) {
    const dims = [rows, compiled.stringColumns.length];
    feeds[names.strings.values] = new ort.Tensor('string', f.strings as string[], dims);
    feeds[names.strings.none] = new ort.Tensor('bool', f.none as Uint8Array, dims);
  }
  const session = await ort.InferenceSession.create(compiled.onnx, { intraOpNumThreads: 1 });
  const out = (await session.run(feeds))[compiled.output.name];
  await session.release();
  const data = Array.from(out.data as Float64Array);
  const k = out.dims.length === 1 ? 1 : Number(out.dims[1]);
  return { got: k === 1 ? data : expected.data.map((_, r) => data.slice(r * k, (r + 1) * k)), expected };
}

it('has boosted and isolation-forest fixtures of both scikit-learn generations', () => {
  for (const family of ['gb-', 'hgb-', 'iforest-']) {
    for (const tag of ['sk12', 'sk19'])
      expect(FIXTURES.filter((d) => d.startsWith(family) && d.endsWith(tag)).length).toBeGreaterThanOrEqual(3);
  }
});

describe.each(FIXTURES.filter((d) => /^(gb|hgb)-(binary|multiclass|exponential)/.test(d)))('%s', (name) => {
  it('decision_function equals scikit-learn on every row', async () => {
    const fn = name.startsWith('hgb-') ? histGradientBoostingDecision : gradientBoostingDecision;
    const { got, expected } = await rawOutput(name, fn, name.includes('multiclass') ? 3 : 1);
    expect(expected.decision_function).toBeDefined();
    expectSame(got, expected.decision_function);
  });
});

describe.each(FIXTURES.filter((d) => d.startsWith('gb-')))('%s', (name) => {
  it("the init estimator's raw prediction equals _raw_predict_init", async () => {
    const expected = (await readExpected(join(SKLEARN_FIXTURES, name))) as Raw;
    expectSame(gradientBoostingInit(new Estimator(model(name), 'm')), expected.raw_init);
  });
});

describe.each(FIXTURES.filter((d) => d.startsWith('iforest-')))('%s', (name) => {
  it('score_samples and decision_function equal scikit-learn on every row', async () => {
    const scores = await rawOutput(name, (est, input, ctx) => isolationScores(est, input, ctx).scoreSamples);
    expectSame(scores.got, scores.expected.score_samples);
    const decision = await rawOutput(name, (est, input, ctx) => isolationScores(est, input, ctx).decision);
    expectSame(decision.got, decision.expected.decision_function);
  });
});

it('_average_path_length', () => {
  expect([0, 1, 2].map(averagePathLength)).toEqual([0, 0, 1]);
  // scikit-learn 1.9's _average_path_length([256]) and ([3]).
  expect(averagePathLength(256)).toBe(10.244770920119917);
  expect(averagePathLength(3)).toBe(1.207392357589623);
});

describe('what the allow-list lets through for boosted models stays inert', () => {
  /** Protocol 2: GLOBAL a, GLOBAL b, TUPLE1, REDUCE, STOP — `a(b)`. */
  const call = (a: string, b: string) => Buffer.from(`\x80\x02c${a.replace('.', '\n')}\nc${b.replace('.', '\n')}\n\x85R.`, 'latin1');

  it('functools.partial of anything but an inert reference is refused with what it wraps', () => {
    expect(() => loadPickle(call('functools.partial', 'posix.system'))).toThrow(UnsafePickleError);
    expect(() => loadPickle(call('functools.partial', 'posix.system'))).toThrow(/posix\.system/);
    const ok = loadPickle(call('functools.partial', 'sklearn.utils.validation.check_array'));
    expect(ok).toBeInstanceOf(PyObject);
    expect(((ok as PyObject).args[0] as PyGlobal).path).toBe('sklearn.utils.validation.check_array');
  });

  it("Cython loss objects become inert objects; other names under '_loss' are refused", () => {
    expect(loadPickle(call('_loss.CyHalfBinomialLoss', 'builtins.object'))).toBeInstanceOf(PyObject);
    expect(() => loadPickle(call('_loss.system', 'builtins.object'))).toThrow(UnsafePickleError);
  });
});

describe('refused at load', () => {
  const compile =
    (m: PyObject, fn: 'predict' | 'predict_proba' | 'predict_log_proba' = 'predict') =>
    () =>
      compileSklearn(m, fn);

  it('gradient boosting: an init estimator other than a Dummy, a random Dummy, a loss object that disagrees', () => {
    const lin = model('gb-squared-error-sk19');
    state(lin).set('init_', new PyObject(new PyGlobal('sklearn.linear_model._base', 'LinearRegression'), []));
    (state(lin).get('init_') as PyObject).state = new PyDict();
    expect(compile(lin)).toThrow(/init_ sklearn\.linear_model\._base\.LinearRegression is not supported/);
    const strat = model('gb-binary-sk12');
    state(state(strat).get('init_') as PyObject).set('_strategy', 'stratified');
    expect(compile(strat, 'predict_proba')).toThrow(/strategy 'stratified' is not supported/);
    const loss = model('gb-huber-sk12');
    state(loss).set('loss', 'quantile');
    expect(compile(loss)).toThrow(/loss 'quantile' does not match its loss object HuberLossFunction/);
    const custom = model('gb-binary-sk19');
    state(custom).set('_loss', renamed(state(custom).get('_loss') as PyObject, 'sklearn.ensemble._gb', 'MyLoss'));
    expect(compile(custom)).toThrow(/its loss object sklearn\.ensemble\._gb\.MyLoss is not one of scikit-learn's/);
  });

  it('histogram boosting: predict_log_proba (scikit-learn has none), an unknown link, a foreign preprocessor step', () => {
    expect(compile(model('hgb-binary-cat-nan-sk19'), 'predict_log_proba')).toThrow(/it has no predict_log_proba/);
    const reg = model('hgb-poisson-sk12');
    const lossObj = state(reg).get('_loss') as PyObject;
    state(lossObj).set('link', renamed(state(lossObj).get('link') as PyObject, 'sklearn._loss.link', 'IdentityLink'));
    expect(compile(reg)).toThrow(/loss HalfPoissonLoss with link IdentityLink is not supported/);
    const pre = model('hgb-squared-error-sk19');
    const ct = state(state(pre).get('_preprocessor') as PyObject);
    const numerical = (ct.get('transformers_') as { items: PyValue[] }[])[1].items[1] as PyObject;
    state(numerical).set('func', null);
    expect(compile(pre)).toThrow(/transformers_\[1\] 'numerical' is not HistGradientBoosting's own preprocessing/);
  });

  it('histogram boosting: categories outside what a uint8 bitset holds', () => {
    const m = model('hgb-squared-error-sk12');
    const mapper = state(state(m).get('_bin_mapper') as PyObject);
    const code = (mapper.get('bin_thresholds_') as NdArray[])[2];
    (code.data as Float64Array)[0] = 300;
    expect(compile(m)).toThrow(/categories of feature 2 are not integers in \[0, 255\]/);
  });

  it('isolation forest: predict_proba, and trees that are not ExtraTreeRegressors', () => {
    expect(compile(model('iforest-default-sk19'), 'predict_proba')).toThrow(/it has no predict_proba/);
    const m = model('iforest-subspace-sk12');
    const trees = state(m).get('estimators_') as PyObject[];
    trees[1] = renamed(trees[1], 'sklearn.tree._classes', 'DecisionTreeRegressor');
    expect(compile(m)).toThrow(/estimators_\[1\] is not an ExtraTreeRegressor/);
  });
});
