/**
 * Inert estimator state → one ONNX graph. The graph's inputs are the columns the model reads
 * (float64 matrix, string matrix + None mask); its outputs are the prediction for `predict_fn`
 * plus one float64 [N] flag per input check scikit-learn would make.
 */
import { CONVERTERS } from './converters/index.js';
import { firstStep } from './converters/pipeline.js';
import { type Assertion, CompileContext, type ConverterTable, type InputColumn, type PredictFn } from './context.js';
import { type NdArray, PyObject, type PyValue } from './pickle/index.js';
import { Estimator, UnsupportedModelError } from './state.js';

export interface CompiledOutput {
  readonly name: string;
  /** `label`: int64 [N] indices into `classes`; `proba`: float64 [N, k]; `value`: float64 [N] or [N, k]. */
  readonly kind: 'label' | 'proba' | 'value';
  readonly classes?: NdArray;
}

export interface CompiledModel {
  readonly onnx: Uint8Array;
  /** The model's input columns, in fit order. */
  readonly columns: readonly InputColumn[];
  /** True when the model was fitted on a DataFrame and reads columns by name. */
  readonly namesKnown: boolean;
  /** Column indices (into `columns`) of the float64 input, in its column order. */
  readonly numericColumns: readonly number[];
  readonly stringColumns: readonly number[];
  readonly inputNames: { readonly numeric?: string; readonly strings?: { readonly values: string; readonly none: string } };
  readonly output: CompiledOutput;
  readonly assertions: readonly Assertion[];
  /** The root estimator's class path and scikit-learn version, for logs. */
  readonly root: { readonly classPath: string; readonly sklearnVersion: string };
}

/** More input columns than this is a hostile or broken pickle, not a model. */
export const MAX_INPUT_COLUMNS = 1_000_000;

/** The model's input columns: the first real step's `feature_names_in_` / `n_features_in_` (or its converter's `inputColumns`). */
function inputColumns(root: Estimator, converters: ConverterTable): { columns: InputColumn[]; namesKnown: boolean } {
  let est: Estimator | undefined = root;
  for (let depth = 0; est !== undefined && depth < 32; depth++) {
    const own = converters.get(est.classPath)?.inputColumns?.(est);
    if (own !== undefined) return own;
    if (est.has('feature_names_in_')) {
      const names = est.array('feature_names_in_').data as unknown[];
      if (!names.every((n) => typeof n === 'string')) est.refuse('feature_names_in_ is not a list of strings');
      return { columns: (names as string[]).map((name, index) => ({ index, name })), namesKnown: true };
    }
    if (est.has('n_features_in_')) {
      const n = est.int('n_features_in_');
      if (n > MAX_INPUT_COLUMNS) est.refuse(`n_features_in_ is ${n}, more than the ${MAX_INPUT_COLUMNS} supported`);
      return { columns: Array.from({ length: n }, (_, index) => ({ index })), namesKnown: false };
    }
    est = est.classPath === 'sklearn.pipeline.Pipeline' ? firstStep(est) : undefined;
  }
  throw new UnsupportedModelError(root.where, 'cannot tell which input columns it reads (no feature_names_in_ or n_features_in_)');
}

function emitOutput(ctx: CompileContext, root: Estimator): CompiledOutput {
  const g = ctx.g;
  const pred = ctx.predict(root, { kind: 'columns', columns: ctx.columns.map((c) => c.index) });
  if (pred.kind === 'regressor') {
    if (ctx.method !== 'predict') root.refuse(`predict_fn '${ctx.method}' needs a classifier, this is a regressor`);
    const shape = pred.targets === 1 ? ['N'] : ['N', pred.targets];
    return { name: g.output(pred.value(), 'prediction', 'float64', shape), kind: 'value' };
  }
  if (ctx.method === 'predict') return { name: g.output(pred.label(), 'label', 'int64', ['N']), kind: 'label', classes: pred.classes };
  const k = pred.classes.size;
  const p = ctx.method === 'predict_log_proba' ? (pred.logProba?.() ?? g.op('Log', [pred.proba()])) : pred.proba();
  return { name: g.output(p, 'probabilities', 'float64', ['N', k]), kind: 'proba' };
}

/** Compiles the unpickled root object for `method`; refuses anything it cannot reproduce exactly. */
export function compileSklearn(value: PyValue, method: PredictFn, converters: ConverterTable = CONVERTERS): CompiledModel {
  if (!(value instanceof PyObject)) throw new UnsupportedModelError('model', 'the pickle does not hold an estimator object');
  const root = new Estimator(value, value.cls.name.toLowerCase());
  const { columns, namesKnown } = inputColumns(root, converters);
  if (columns.length === 0) root.refuse('it reads no input columns');
  const ctx = new CompileContext(columns, method, converters);
  const output = emitOutput(ctx, root);
  const assertions = ctx.assertions.map((a, k) => ({ ...a, output: ctx.g.output(a.output, `check_${k}`, 'float64', ['N']) }));
  ctx.fixInputWidths();
  return {
    onnx: ctx.g.build(`compiled by modelgate from ${root.classPath}`),
    columns,
    namesKnown,
    numericColumns: ctx.numericColumns,
    stringColumns: ctx.stringColumns,
    inputNames: ctx.inputNames,
    output,
    assertions,
    root: {
      classPath: root.classPath,
      sklearnVersion: typeof root.raw('_sklearn_version') === 'string' ? (root.raw('_sklearn_version') as string) : 'unknown',
    },
  };
}
