/**
 * What the sklearn flavour refuses, and how: pickles that would run code or import user code
 * (named with the path where they sit; the marker file their payload would create never
 * appears), estimators and settings without an exact converter, and malformed trees.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { compileSklearn } from '../../src/flavors/sklearn/compile.js';
import {
  type NdArray,
  PyDict,
  PyGlobal,
  PyObject,
  PyTuple,
  UnsafePickleError,
  loadPickle,
} from '../../src/flavors/sklearn/pickle/index.js';
import { InvalidTreeError, type TreeEnsembleIR, validateTreeEnsemble } from '../../src/onnx/tree-ensemble.js';
import { tempDirs } from '../fixtures/temp-dirs.js';
import { SKLEARN_FIXTURES, WINE_LOGREG, loadDir } from './helpers.js';

const MALICIOUS = join(SKLEARN_FIXTURES, 'malicious');
const MARKER = '/tmp/modelgate-sklearn-pwned-marker';
const temp = tempDirs();
afterAll(() => temp.removeAll());

const EXPECTED: Record<string, [string, string]> = {
  'os-system-reduce.pkl': ['the top-level object', 'posix.system'],
  'os-system-in-pipeline.pkl': ['pipeline.steps[0][1]', 'posix.system'],
  'eval-reduce.pkl': ['the top-level object', 'builtins.eval'],
  'subprocess-reduce.pkl': ['the top-level object', 'subprocess.call'],
  'lambda.pkl': ['the top-level object', 'cloudpickle.cloudpickle._make_function'],
  'function-transformer-lambda.pkl': ['pipeline.steps[1][1].func', 'cloudpickle.cloudpickle._make_function'],
  'custom-class-pipeline.pkl': ['pipeline.steps[1][1]', 'mypkg.MyTransformer'],
};

describe('pickles that would run code', () => {
  beforeAll(() => expect(existsSync(MARKER), `${MARKER} exists before the test`).toBe(false));
  afterAll(() => expect(existsSync(MARKER)).toBe(false));

  it('covers every committed malicious pickle', () => {
    expect(readdirSync(MALICIOUS).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, [where, classPath]] of Object.entries(EXPECTED)) {
    it(`${file}: refused, naming ${classPath} at ${where}`, () => {
      let err: unknown;
      try {
        loadPickle(readFileSync(join(MALICIOUS, file)));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsafePickleError);
      const e = err as UnsafePickleError;
      expect([e.where, e.classPath]).toEqual([where, classPath]);
      expect(e.status).toBe(400);
      expect(e.message).toContain(`${where} → ${classPath}`);
      expect(e.message).toMatch(/Hint: export the model to ONNX .* JS-code model/);
      expect(existsSync(MARKER)).toBe(false);
    });
  }

  it('a model directory holding one fails to load with a 400 and runs nothing', async () => {
    for (const file of ['os-system-in-pipeline.pkl', 'custom-class-pipeline.pkl']) {
      const dir = await temp.make('modelgate-sk-evil-');
      for (const f of ['MLmodel', 'serving_input_example.json', 'input_example.json']) await copyFile(join(WINE_LOGREG, f), join(dir, f));
      await copyFile(join(MALICIOUS, file), join(dir, 'model.pkl'));
      const err = await loadDir(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).status).toBe(400);
      expect((err as Error).message).toContain(EXPECTED[file][1]);
    }
    expect(existsSync(MARKER)).toBe(false);
  });

  it('refuses MLmodel paths outside the model directory', async () => {
    const dir = await temp.make('modelgate-sk-path-');
    const mlmodel = readFileSync(join(WINE_LOGREG, 'MLmodel'), 'utf8').replace(
      'pickled_model: model.pkl',
      'pickled_model: ../../etc/passwd',
    );
    await writeFile(join(dir, 'MLmodel'), mlmodel);
    await expect(loadDir(dir)).rejects.toThrow(/points outside the model directory/);
  });
});

/** The census RF pipeline's inert state, to tamper with. */
function census(tag = 'sk19'): PyObject {
  return loadPickle(readFileSync(join(SKLEARN_FIXTURES, `census-rf-${tag}`, 'model.pkl'))) as PyObject;
}

function at(obj: PyObject, ...path: (string | number)[]): unknown {
  let v: unknown = obj;
  for (const p of path) v = typeof p === 'number' ? (v as unknown[])[p] : ((v as PyObject).dict as PyDict).get(p);
  return v;
}

function step(obj: PyObject, i: number): PyObject {
  return ((at(obj, 'steps') as { items: unknown[] }[])[i].items[1] as PyObject) ?? obj;
}

describe('estimators and settings without an exact converter', () => {
  it('an unknown scikit-learn class', () => {
    const est = new PyObject(new PyGlobal('sklearn.semi_supervised._label_propagation', 'LabelSpreading'), []);
    est.state = new PyDict();
    (est.state as PyDict).set('n_features_in_', 4);
    expect(() => compileSklearn(est, 'predict')).toThrow(
      /labelspreading \(sklearn\.semi_supervised\._label_propagation\.LabelSpreading\): modelgate has no converter for this class/,
    );
  });

  it('infrequent categories without their fitted state, add_indicator, multi-output forests, predict_proba of a regressor', () => {
    const encoder = () => {
      const m = census();
      const ct = step(m, 0);
      const cat = (at(ct, 'transformers_') as { items: unknown[] }[])[1].items[1] as PyObject;
      return { m, enc: step(cat, 1), imp: step(cat, 0) };
    };
    const a = encoder();
    (a.enc.dict as PyDict).set('_infrequent_enabled', true);
    expect(() => compileSklearn(a.m, 'predict')).toThrow(
      /transformers_\[1\]\.steps\[1\] \(sklearn\.preprocessing\._encoders\.OneHotEncoder\): its state has no '_infrequent_indices'/,
    );
    const b = encoder();
    (b.imp.dict as PyDict).set('add_indicator', true);
    expect(() => compileSklearn(b.m, 'predict')).toThrow(/add_indicator=True is not supported/);
    const c = census();
    (step(c, 1).dict as PyDict).set('n_outputs_', 2);
    expect(() => compileSklearn(c, 'predict')).toThrow(/multi-output classifiers are not supported/);
    const reg = loadPickle(readFileSync(join(SKLEARN_FIXTURES, 'diabetes-linreg-sk19', 'model.pkl')));
    expect(() => compileSklearn(reg, 'predict_proba')).toThrow(/needs a classifier, this is a regressor/);
  });

  it('a pipeline that contains itself, and an absurd feature count', () => {
    const p = new PyObject(new PyGlobal('sklearn.pipeline', 'Pipeline'), []);
    const state = new PyDict();
    state.set('steps', [new PyTuple(['self', p])]);
    p.state = state;
    expect(() => compileSklearn(p, 'predict')).toThrow(/cannot tell which input columns/);
    const looped = census();
    const steps = (looped.dict as PyDict).get('steps') as PyTuple[];
    steps[1] = new PyTuple(['again', looped]);
    expect(() => compileSklearn(looped, 'predict')).toThrow(/pipeline.steps\[1\].steps\[0\] .*fitted on 6 columns but receives 16/);
    const wide = census();
    (step(wide, 0).dict as PyDict).set('feature_names_in_', null);
    (step(wide, 0).dict as PyDict).set('n_features_in_', 2 ** 40);
    expect(() => compileSklearn(wide, 'predict')).toThrow(/n_features_in_ is 1099511627776/);
  });

  it('an unknown multi_class', () => {
    const lr = loadPickle(readFileSync(join(SKLEARN_FIXTURES, 'census-logreg-sk12', 'model.pkl'))) as PyObject;
    (step(lr, 1).dict as PyDict).set('multi_class', 'something-new');
    expect(() => compileSklearn(lr, 'predict_proba')).toThrow(/multi_class 'something-new' is not supported/);
  });
});

describe('malformed trees', () => {
  const leaf = (w: number) => ({ kind: 'leaf' as const, targets: [0], weights: [w] });
  const split = (t: number, f: number, feature = 0) => ({
    kind: 'split' as const,
    feature,
    mode: 'leq' as const,
    threshold: 0.5,
    trueChild: t,
    falseChild: f,
    missingTracksTrue: false,
  });
  const ensemble = (nodes: TreeEnsembleIR['trees'][0]['nodes']): TreeEnsembleIR => ({
    nFeatures: 2,
    nTargets: 1,
    trees: [{ nodes }],
    aggregate: 'sum',
    inputPrecision: 'float64',
  });

  it('refuses cycles, shared children, out-of-range children, unreachable nodes and features beyond the input', () => {
    expect(() => validateTreeEnsemble(ensemble([split(0, 1), leaf(1)]))).toThrow(/reached twice/);
    expect(() => validateTreeEnsemble(ensemble([split(1, 1), leaf(1)]))).toThrow(/reached twice/);
    expect(() => validateTreeEnsemble(ensemble([split(1, 7), leaf(1)]))).toThrow(/child 7 out of range/);
    expect(() => validateTreeEnsemble(ensemble([split(1, 2), leaf(1), leaf(2), leaf(3)]))).toThrow(/not reachable/);
    expect(() => validateTreeEnsemble(ensemble([split(1, 2, 5), leaf(1), leaf(2)]))).toThrow(/feature 5, the input has 2/);
    expect(() => validateTreeEnsemble(ensemble([split(1, 2), { kind: 'leaf', targets: [3], weights: [1] }, leaf(2)]))).toThrow(/target 3/);
    expect(() => validateTreeEnsemble(ensemble([split(1, 2), leaf(1), leaf(2)]))).not.toThrow();
  });

  it('refuses a pickled tree whose nodes form a cycle or split on a feature the input lacks', () => {
    const nodesOf = (m: PyObject) => ((at(m, 'tree_') as PyObject).dict as PyDict).get('nodes') as NdArray;
    const file = join(SKLEARN_FIXTURES, 'pickles', 'iris-tree-p5-sk19.pkl');
    const cyclic = loadPickle(readFileSync(file)) as PyObject;
    (nodesOf(cyclic).fields?.right_child as BigInt64Array)[0] = 0n;
    expect(() => compileSklearn(cyclic, 'predict')).toThrow(InvalidTreeError);
    const wide = loadPickle(readFileSync(file)) as PyObject;
    (nodesOf(wide).fields?.feature as BigInt64Array)[0] = 99n;
    expect(() => compileSklearn(wide, 'predict')).toThrow(/splits on feature 99, the input has 4/);
  });
});
