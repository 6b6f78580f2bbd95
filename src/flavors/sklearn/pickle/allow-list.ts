/**
 * Which globals a pickle may name. Nothing is ever called: an allowed name is either interpreted
 * by a pure function here (numpy arrays, dtypes, scalars, sets, `copyreg._reconstructor`) or
 * becomes an inert class reference. Every other name becomes a {@link Refused} marker, which
 * fails the load with the path where it sits.
 */
import { UnpicklingError } from './errors.js';
import { fromBuffer, makeDType, makeScalar } from './numpy.js';
import { NdArray, PyDict, PyGlobal, PyObject, PySet, PySlice, PyTuple, type PyValue } from './values.js';

/** A pure stand-in for calling a global with positional arguments. */
export type Interpreter = (args: readonly PyValue[]) => PyValue;

export type GlobalKind =
  | { kind: 'call'; interpret: Interpreter }
  /** A class (or ctor function) whose instances stay inert {@link PyObject}s. */
  | { kind: 'class' }
  /** Referenced as a value only (e.g. `dtype=numpy.float64`); calling it is refused. */
  | { kind: 'type' };

const NUMPY_CORE = ['numpy.core', 'numpy._core'];

function reconstruct(args: readonly PyValue[]): PyValue {
  // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills.
  const cls = args[0];
  if (!(cls instanceof PyGlobal) || cls.name !== 'ndarray') throw new UnpicklingError('_reconstruct of something other than ndarray');
  return new NdArray();
}

function copyregReconstructor(args: readonly PyValue[]): PyValue {
  // copyreg._reconstructor(cls, object, None) is protocol 0/1's object.__new__(cls).
  const [cls, base, state] = args;
  if (!(cls instanceof PyGlobal) || !(base instanceof PyGlobal) || base.path !== 'builtins.object' || state !== null) {
    throw new UnpicklingError('copyreg._reconstructor is supported for plain objects only');
  }
  if (classify(cls.module, cls.name)?.kind !== 'class') throw new UnpicklingError(`copyreg._reconstructor of ${cls.path}`);
  return new PyObject(cls, []);
}

function sklearnNewObj(args: readonly PyValue[]): PyValue {
  // Cython extension types (KDTree, BallTree, DistanceMetric) pickle as newObj(cls) + BUILD(state).
  const [cls] = args;
  if (!(cls instanceof PyGlobal) || args.length !== 1) throw new UnpicklingError('newObj takes one class');
  if (classify(cls.module, cls.name)?.kind !== 'class') throw new UnpicklingError(`newObj of ${cls.path}`);
  return new PyObject(cls, []);
}

function iterable(v: PyValue | undefined): PyValue[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple) return [...v.items];
  if (v instanceof PySet) return [...v.items];
  throw new UnpicklingError('expected a list or tuple');
}

function orderedDict(args: readonly PyValue[]): PyValue {
  const d = new PyDict();
  for (const kv of iterable(args[0])) {
    if (!(kv instanceof PyTuple) || kv.items.length !== 2) throw new UnpicklingError('OrderedDict items must be pairs');
    d.set(kv.items[0], kv.items[1]);
  }
  return d;
}

function latin1(args: readonly PyValue[]): PyValue {
  // _codecs.encode(text, 'latin1') is how protocols 0-2 spell bytes.
  const [text, enc] = args;
  if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new UnpicklingError('unsupported _codecs.encode call');
  const out = new Uint8Array(text.length);
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c > 255) throw new UnpicklingError('non-latin1 text in _codecs.encode');
    out[k] = c;
  }
  return out;
}

const CALLS: Readonly<Record<string, Interpreter>> = {
  'copyreg._reconstructor': copyregReconstructor,
  '_codecs.encode': latin1,
  'builtins.set': (a) => new PySet(iterable(a[0]), false),
  'builtins.frozenset': (a) => new PySet(iterable(a[0]), true),
  'builtins.bytearray': (a) => (a[0] instanceof Uint8Array ? a[0].slice() : a.length === 0 ? new Uint8Array() : latin1(a)),
  'builtins.slice': (a) => (a.length === 1 ? new PySlice(null, a[0], null) : new PySlice(a[0], a[1], a[2] ?? null)),
  'collections.OrderedDict': orderedDict,
  'sklearn.neighbors._kd_tree.newObj': sklearnNewObj,
  'sklearn.neighbors._ball_tree.newObj': sklearnNewObj,
  'sklearn.metrics._dist_metrics.newObj': sklearnNewObj,
  // LightGBM's `_best_score`: the default factory is never called, the items are SETITEM'd after.
  'collections.defaultdict': () => new PyDict(),
};

const NUMPY_CALLS: Readonly<Record<string, Interpreter>> = {
  'multiarray._reconstruct': reconstruct,
  'multiarray.scalar': makeScalar,
  'numeric._frombuffer': fromBuffer,
};

const TYPES = new Set([
  'builtins.object',
  'builtins.float',
  'builtins.int',
  'builtins.str',
  'builtins.bool',
  'builtins.list',
  'builtins.dict',
  'builtins.tuple',
  'numpy.ndarray',
]);
const NUMPY_SCALAR_TYPES = /^(float(16|32|64)|u?int(8|16|32|64)|bool_?|str_|bytes_|object_|intp|uintp|double|single|longlong)$/;

/** Inert placeholders for the pickled state of numpy random generators (estimators' `random_state`). */
const NUMPY_CLASSES = new Set([
  'numpy.random._pickle.__randomstate_ctor',
  'numpy.random._pickle.__generator_ctor',
  'numpy.random._pickle.__bit_generator_ctor',
  'numpy.random.mtrand.RandomState',
  'numpy.random.bit_generator.__pyx_unpickle_SeedSequence',
]);

/**
 * Cython objects that boosted models carry (scikit-learn's loss objects, numpy's SeedSequence
 * inside a fitted RandomState), named through Cython's pickle helpers or, in scikit-learn 1.6's
 * builds, under the module name `_loss`: they become inert objects that no converter reads.
 */
const CYTHON_OBJECTS =
  /^((sklearn\._loss\._loss|_loss)\.(__pyx_unpickle_)?Cy[A-Za-z]+|numpy\.random\.bit_generator\.__pyx_unpickle_SeedSequence)$/;

/**
 * HistGradientBoosting's fitted preprocessor holds `functools.partial(check_array, ...)`: the
 * partial stays an inert object and `check_array` a bare reference (its converter checks both).
 */
const PARTIAL = 'functools.partial';
const INERT_FUNCTIONS = new Set(['sklearn.utils.validation.check_array']);

const RENAMED_MODULES: Readonly<Record<string, string>> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/**
 * The scikit-learn API classes of XGBoost and LightGBM and their boosters: inert state that the
 * xgboost/lightgbm converters decode (the booster's model bytes or model string), never code.
 */
const BOOSTING_CLASSES = new Set([
  'xgboost.sklearn.XGBClassifier',
  'xgboost.sklearn.XGBRegressor',
  'xgboost.sklearn.XGBRanker',
  'xgboost.sklearn.XGBRFClassifier',
  'xgboost.sklearn.XGBRFRegressor',
  'xgboost.core.Booster',
  'lightgbm.sklearn.LGBMClassifier',
  'lightgbm.sklearn.LGBMRegressor',
  'lightgbm.sklearn.LGBMRanker',
  'lightgbm.basic.Booster',
]);

/** Names scikit-learn uses for classes (functions are lower-case and stay refused). */
const SKLEARN_CLASS = /^_?[A-Z][A-Za-z0-9_]*$/;

export function classify(rawModule: string, name: string): GlobalKind | undefined {
  const module = RENAMED_MODULES[rawModule] ?? rawModule;
  const path = `${module}.${name}`;
  const call = CALLS[path];
  if (call !== undefined) return { kind: 'call', interpret: call };
  if (path === 'numpy.dtype') return { kind: 'call', interpret: makeDType };
  for (const core of NUMPY_CORE) {
    if (path.startsWith(`${core}.`)) {
      const c = NUMPY_CALLS[path.slice(core.length + 1)];
      if (c !== undefined) return { kind: 'call', interpret: c };
    }
  }
  if (TYPES.has(path) || (module === 'numpy' && NUMPY_SCALAR_TYPES.test(name))) return { kind: 'type' };
  if (NUMPY_CLASSES.has(path) || (module.startsWith('numpy.random.') && /^[A-Z]\w*$/.test(name))) return { kind: 'class' };
  if ((module === 'sklearn' || module.startsWith('sklearn.')) && SKLEARN_CLASS.test(name)) return { kind: 'class' };
  if (CYTHON_OBJECTS.test(path) || path === PARTIAL) return { kind: 'class' };
  if (INERT_FUNCTIONS.has(path)) return { kind: 'type' };
  if (BOOSTING_CLASSES.has(path)) return { kind: 'class' };
  return undefined;
}

/** The canonical path (Python 2 module names mapped to Python 3's). */
export function canonicalGlobal(module: string, name: string): PyGlobal {
  return new PyGlobal(RENAMED_MODULES[module] ?? module, name);
}
