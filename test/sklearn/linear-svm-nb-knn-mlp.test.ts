/**
 * Linear models, SVMs, naive Bayes, nearest neighbours and MLPs beyond what parity.test.ts checks
 * on every fixture: the predict_fns scikit-learn lacks are refused at load, the KNN rows whose
 * answer scikit-learn leaves to its search order or to rounding noise are refused with a 400,
 * settings without an exact conversion are refused at load, and the graph building blocks they
 * rely on (nested Loop/If graphs, numpy's summation order) behave as documented.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { compileSklearn } from '../../src/flavors/sklearn/compile.js';
import type { PredictFn } from '../../src/flavors/sklearn/context.js';
import { numpyPairwiseSum, numpyPairwiseSumOf, sequentialSum } from '../../src/flavors/sklearn/converters/exact-sums.js';
import { type NdArray, type PyDict, PyGlobal, PyObject, PyTuple, loadPickle } from '../../src/flavors/sklearn/pickle/index.js';
import { GraphBuilder } from '../../src/onnx/graph-builder.js';
import type { ServableModel } from '../../src/core/servable.js';
import { scoreBody } from '../../src/core/scoring.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { SKLEARN_FIXTURES, loadDir, pyJsonStringify, readExpected, withPredictFn } from './helpers.js';

const FAMILIES = /^(linear|multiclass|svm|nb|neighbors|mlp)-/;
const FIXTURES = readdirSync(SKLEARN_FIXTURES)
  .filter((d) => FAMILIES.test(d) && existsSync(join(SKLEARN_FIXTURES, d, 'expected.json')))
  .sort();

const temp = tempDirs();
const loaded: ServableModel[] = [];
afterAll(async () => {
  await Promise.all(loaded.map((s) => s.model.unload()));
  await temp.removeAll();
});

interface Extra {
  missing_methods?: string[];
  unreproducible?: { row: unknown[]; reason: string }[];
}

it('has fixtures of every family in both scikit-learn generations', () => {
  for (const family of ['linear', 'multiclass', 'svm', 'nb', 'neighbors', 'mlp'])
    for (const tag of ['sk12', 'sk19'])
      expect(
        FIXTURES.some((d) => d.startsWith(`${family}-`) && d.endsWith(tag)),
        `${family} ${tag}`,
      ).toBe(true);
});

describe.each(FIXTURES)('%s', (name) => {
  const dir = join(SKLEARN_FIXTURES, name);

  it('refuses at load the predict_fns scikit-learn does not offer', async (t) => {
    const extra = (await readExpected(dir)) as unknown as Extra;
    if ((extra.missing_methods ?? []).length === 0) t.skip();
    for (const fn of extra.missing_methods ?? []) {
      const err = await loadDir(await withPredictFn(dir, fn, temp)).catch((e: unknown) => e);
      expect(err, fn).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).status).toBe(400);
      expect((err as Error).message).toMatch(/no predict_(log_)?proba|probability=False|needs a classifier/);
    }
  });

  it('refuses, with a 400, the rows whose neighbours scikit-learn leaves to chance', async (t) => {
    const expected = await readExpected(dir);
    const rows = (expected as unknown as Extra).unreproducible ?? [];
    if (rows.length === 0) t.skip();
    const servable = await loadDir(dir);
    loaded.push(servable);
    for (const { row, reason } of rows) {
      const body = pyJsonStringify({ dataframe_split: { columns: expected.columns, data: [row] } });
      const err = await scoreBody(servable, 'application/json', body).catch((e: unknown) => e);
      expect(err, `${JSON.stringify(row)} (${reason})`).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).status).toBe(400);
    }
  });
});

function fixture(name: string): PyObject {
  return loadPickle(readFileSync(join(SKLEARN_FIXTURES, name, 'model.pkl'))) as PyObject;
}

function state(obj: PyObject): PyDict {
  return obj.dict as PyDict;
}

/** The final estimator of a fixture that is a Pipeline. */
function last(obj: PyObject): PyObject {
  const steps = state(obj).get('steps') as PyTuple[];
  return steps[steps.length - 1].items[1] as PyObject;
}

describe('settings refused at load', () => {
  it('SVC: precomputed kernels, sparse fits, altered support counts, break_ties with ovo', () => {
    const cases: [string, (s: PyDict) => void, RegExp][] = [
      ['kernel', (s) => s.set('kernel', 'precomputed'), /kernel 'precomputed' is not supported/],
      ['sparse', (s) => s.set('_sparse', true), /fitted on sparse input/],
      ['n_support', (s) => ((s.get('_n_support') as NdArray).data as Int32Array)[0]++, /altered model/],
      [
        'break_ties',
        (s) => {
          s.set('break_ties', true);
          s.set('decision_function_shape', 'ovo');
        },
        /break_ties=True with decision_function_shape='ovo'/,
      ],
    ];
    for (const [what, tamper, message] of cases) {
      const svc = fixture('svm-svc-rbf-proba-sk19');
      tamper(state(svc));
      expect(() => compileSklearn(svc, 'predict'), what).toThrow(message);
    }
    const noProba = fixture('svm-svc-rbf-proba-sk12');
    state(noProba).set('probability', false);
    expect(() => compileSklearn(noProba, 'predict_proba')).toThrow(/probability=False/);
  });

  it('KNeighbors*: other metrics and weights, metric parameters, multi-output classifiers, malformed trees', () => {
    const cases: [string, (s: PyDict) => void, RegExp][] = [
      ['metric', (s) => s.set('effective_metric_', 'chebyshev'), /metric 'chebyshev' is not supported/],
      ['weights', (s) => s.set('weights', new PyObject(new PyGlobal('sklearn.x', 'Callable'), [])), /weights uniform and distance/],
      ['n_neighbors', (s) => s.set('n_neighbors', 10_000), /n_neighbors 10000/],
      ['outputs_2d_', (s) => s.set('outputs_2d_', true), /multi-output classifiers/],
      ['_fit_method', (s) => s.set('_fit_method', 'annoy'), /_fit_method 'annoy'/],
      ['tree', (s) => ((s.get('_tree') as PyObject).state = new PyTuple([])), /not a pickled KDTree or BallTree/],
    ];
    for (const [what, tamper, message] of cases) {
      const knn = fixture('neighbors-knn-kdtree-sk19');
      tamper(state(knn));
      expect(() => compileSklearn(knn, 'predict'), what).toThrow(message);
    }
    const knn = fixture('neighbors-knn-kdtree-sk12');
    expect(() => compileSklearn(knn, 'predict_log_proba')).toThrow(/KNeighborsClassifier has no predict_log_proba/);
  });

  it('MLP, GaussianNB, RidgeClassifier and OneVsRestClassifier settings without an exact conversion', () => {
    const mlp = fixture('mlp-classifier-relu-sk19');
    state(last(mlp)).set('activation', 'softplus');
    expect(() => compileSklearn(mlp, 'predict')).toThrow(/activation 'softplus' is not supported/);
    const multilabel = fixture('mlp-classifier-relu-sk12');
    state(state(last(multilabel)).get('_label_binarizer') as PyObject).set('y_type_', 'multilabel-indicator');
    expect(() => compileSklearn(multilabel, 'predict')).toThrow(/multi-label/);
    const nb = fixture('nb-gaussian-sk12');
    state(nb).set('var_', null);
    expect(() => compileSklearn(nb, 'predict')).toThrow(/no 'var_'/);
    const ridge = fixture('linear-ridge-classifier-sk12');
    state(state(ridge).get('_label_binarizer') as PyObject).set('y_type_', 'multilabel-indicator');
    expect(() => compileSklearn(ridge, 'predict')).toThrow(/multi-label/);
    const ovr = fixture('multiclass-ovr-logreg-sk19');
    const members = state(ovr).get('estimators_') as PyObject[];
    members[1] = new PyObject(new PyGlobal('sklearn.multiclass', '_ConstantPredictor'), []);
    members[1].state = state(members[0]);
    expect(() => compileSklearn(ovr, 'predict')).toThrow(/constant member/);
    const other = fixture('multiclass-ovr-logreg-sk12');
    const list = state(other).get('estimators_') as PyObject[];
    list[0] = new PyObject(new PyGlobal('sklearn.ensemble._gb', 'GradientBoostingClassifier'), []);
    list[0].state = state(list[1]);
    expect(() => compileSklearn(other, 'predict')).toThrow(/not supported as a OneVsRestClassifier member/);
    expect(() => compileSklearn(fixture('linear-svc-sk19'), 'predict_proba')).toThrow(/LinearSVC has no predict_proba/);
  });
});

/** The compiled graph's first output on float64 rows (every column numeric). */
async function score(model: PyObject, method: PredictFn, rows: number[][]): Promise<number[]> {
  const compiled = compileSklearn(model, method);
  const session = await ort.InferenceSession.create(compiled.onnx, { intraOpNumThreads: 1 });
  try {
    const x = new ort.Tensor('float64', Float64Array.from(rows.flat()), [rows.length, rows[0].length]);
    const out = await session.run({ [compiled.inputNames.numeric as string]: x });
    return Array.from(out[compiled.output.name].data as ArrayLike<number | bigint>, Number);
  } finally {
    await session.release();
  }
}

describe("corner cases the fixtures do not reach, as each version's code reads", () => {
  it('SGDClassifier(log_loss): rows whose expits all underflow are NaN before 1.9, uniform from 1.9', async () => {
    for (const [tag, expected] of [
      ['sk12', [NaN, NaN, NaN]],
      ['sk19', [1 / 3, 1 / 3, 1 / 3]],
    ] as const) {
      const model = fixture(`linear-sgd-log-${tag}`);
      ((state(last(model)).get('intercept_') as NdArray).data as Float64Array).fill(-1e4);
      expect(await score(model, 'predict_proba', [[5.8, 3, 4.35, 1.3]]), tag).toEqual(expected);
    }
  });

  it('OneVsRestClassifier: tied member scores give the last class before 1.8, the first from 1.8', async () => {
    for (const [tag, expected] of [
      ['sk12', 2],
      ['sk19', 0],
    ] as const) {
      const model = fixture(`multiclass-ovr-logreg-${tag}`);
      const members = state(model).get('estimators_') as PyObject[];
      members[1] = members[0];
      members[2] = members[0];
      expect(await score(model, 'predict', [[5.8, 3, 4.35, 1.3]]), tag).toEqual([expected]);
    }
  });
});

async function run(g: GraphBuilder, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(g.build(), { intraOpNumThreads: 1 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

describe('graph building blocks', () => {
  it('nested graphs: a Loop carries values and stops on its condition, an If runs one branch; both read enclosing values', async () => {
    const g = new GraphBuilder();
    const x = g.input('X', 'float64', ['N', 2]);
    const body = g.subgraph(
      'double',
      [
        { dtype: 'int64', shape: [] },
        { dtype: 'bool', shape: [] },
        { dtype: 'float64', shape: ['N', 2] },
      ],
      (sub, [i, , acc]) => [
        { name: sub.op('Less', [i, sub.int64([2], [])]), dtype: 'bool', shape: [] },
        { name: sub.op('Add', [acc, x]), dtype: 'float64', shape: ['N', 2] },
      ],
    );
    const [looped] = g.node('Loop', [g.int64([10], []), g.constant('bool', [], [true]), x], { body: { g: body } });
    const branch = (v: number) =>
      g.subgraph(`b${v}`, [], (sub) => [{ name: sub.op('Mul', [x, sub.double([v], [])]), dtype: 'float64', shape: ['N', 2] }]);
    const flag = g.input('flag', 'bool', []);
    const [chosen] = g.node('If', [flag], { then_branch: { g: branch(10) }, else_branch: { g: branch(-1) } });
    g.output(looped, 'looped', 'float64', ['N', 2]);
    g.output(chosen, 'chosen', 'float64', ['N', 2]);
    const X = new ort.Tensor('float64', Float64Array.from([1, 2]), [1, 2]);
    const a = await run(g, { X, flag: new ort.Tensor('bool', [true], []) });
    expect(Array.from(a.looped.data as Float64Array)).toEqual([4, 8]);
    expect(Array.from(a.chosen.data as Float64Array)).toEqual([10, 20]);
    const b = await run(g, { X, flag: new ort.Tensor('bool', [false], []) });
    expect(Array.from(b.chosen.data as Float64Array)).toEqual([-1, -2]);
  });

  it("numpy's pairwise summation and C's left-to-right sum, emitted op by op, round as the reference does", async () => {
    const values = Array.from({ length: 300 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 13) - 6));
    const sizes = [1, 3, 7, 8, 9, 16, 17, 100, 128, 129, 257, 300];
    const g = new GraphBuilder();
    const terms = values.map((v) => g.double([v], [1]));
    sizes.forEach((n) => {
      g.output(numpyPairwiseSum(g, terms.slice(0, n)), `pairwise${n}`, 'float64', [1]);
      g.output(sequentialSum(g, terms.slice(0, n)), `sequential${n}`, 'float64', [1]);
    });
    g.input('unused', 'float64', [1]);
    const out = await run(g, { unused: new ort.Tensor('float64', Float64Array.from([0]), [1]) });
    for (const n of sizes) {
      const head = values.slice(0, n);
      expect((out[`pairwise${n}`].data as Float64Array)[0], `pairwise ${n}`).toBe(numpyPairwiseSumOf(head));
      expect((out[`sequential${n}`].data as Float64Array)[0], `sequential ${n}`).toBe(head.reduce((s, v) => s + v, 0));
    }
    // Eight accumulators, combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the tail.
    const nine = [1e16, 1, 1, 1, 1, 1, 1, 1, 1];
    expect(numpyPairwiseSumOf(nine)).toBe(1e16 + 1 + (1 + 1) + (1 + 1 + (1 + 1)) + 1);
  });
});
