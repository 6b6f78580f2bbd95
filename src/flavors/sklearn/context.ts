/**
 * What converters share while compiling one model: the graph, the model's input columns (fed as
 * one float64 matrix and one string matrix with a None mask, each holding only the columns some
 * step reads), the runtime checks scikit-learn would make, and the typed values that flow
 * between steps.
 */
import { GraphBuilder, math } from '../../onnx/graph-builder.js';
import { type NdArray } from './pickle/index.js';
import { type Estimator, UnsupportedModelError } from './state.js';

export type PredictFn = 'predict' | 'predict_proba' | 'predict_log_proba';

/** One column of the model's input (a DataFrame column, or a position in a 2-D array). */
export interface InputColumn {
  readonly index: number;
  /** From `feature_names_in_`; absent when the model was fitted on an array. */
  readonly name?: string;
}

/**
 * A value flowing between steps. `columns` are input columns not read yet (so a step can ask for
 * them as numbers or as strings, as pandas would hand them over); `numeric` is a float64
 * [N, width] matrix; `strings` a string [N, width] matrix with a bool mask of None cells (NaN
 * cells are flagged too and hold feeds.ts's `NAN_CELL`, None cells hold '').
 */
export type Value =
  | { readonly kind: 'columns'; readonly columns: readonly number[] }
  | { readonly kind: 'numeric'; readonly name: string; readonly width: number }
  | { readonly kind: 'strings'; readonly name: string; readonly none: string; readonly width: number };

/** What a final estimator offers; the compiler asks only for what `predict_fn` needs. */
export type Prediction =
  | {
      readonly kind: 'classifier';
      /** `classes_`, in the order the label index and probability columns use. */
      readonly classes: NdArray;
      /** int64 [N]: index into `classes` (what `predict` returns, before the lookup). */
      label(): string;
      /** float64 [N, n_classes]. */
      proba(): string;
      /**
       * float64 [N, n_classes] for predict_log_proba, where scikit-learn does not compute it as
       * log(predict_proba) (GaussianNB subtracts a log-sum-exp) or has no predict_log_proba
       * (the converter refuses). Absent: log(proba()).
       */
      logProba?(): string;
    }
  | {
      readonly kind: 'regressor';
      /** float64 [N] (one target) or [N, targets]. */
      value(): string;
      readonly targets: number;
    };

/** A row-wise check scikit-learn makes before computing; a row that fails is a 400 for the request. */
export interface Assertion {
  /** float64 [N]: non-zero where the row fails. */
  readonly output: string;
  readonly message: string;
}

/**
 * Converts one estimator family. A transformer implements `transform`, a final estimator
 * `predict`; a meta-estimator (Pipeline) may implement both. Each reads the inert state through
 * {@link Estimator} and refuses (at load) any setting whose effect on predictions it does not
 * reproduce.
 */
export interface Converter {
  transform?(est: Estimator, input: Value, ctx: CompileContext): Value;
  predict?(est: Estimator, input: Value, ctx: CompileContext): Prediction;
  /**
   * The input columns, for estimators that keep them in their own state rather than in
   * `feature_names_in_` / `n_features_in_` (XGBoost's and LightGBM's scikit-learn classes).
   */
  inputColumns?(est: Estimator): { columns: InputColumn[]; namesKnown: boolean };
}

/** Converters keyed by scikit-learn class path, e.g. `sklearn.pipeline.Pipeline`. */
export type ConverterTable = ReadonlyMap<string, Converter>;

/** Nested pipelines and column transformers deeper than this are refused (bounds recursion). */
const MAX_NESTING = 32;

export class CompileContext {
  readonly g = new GraphBuilder();
  readonly assertions: Assertion[] = [];
  /** Input columns in the order of the float64 matrix input. */
  readonly numericColumns: number[] = [];
  /** Input columns in the order of the string matrix input. */
  readonly stringColumns: number[] = [];
  private numericInput: string | undefined;
  private stringInput: { values: string; none: string } | undefined;

  private depth = 0;

  constructor(
    readonly columns: readonly InputColumn[],
    readonly method: PredictFn,
    private readonly converters: ConverterTable,
  ) {}

  private converter(est: Estimator, role: 'transform' | 'predict'): Converter {
    const c = this.converters.get(est.classPath);
    if (c === undefined) est.refuse('modelgate has no converter for this class');
    if (c[role] === undefined)
      est.refuse(role === 'predict' ? 'it is not a predictor (it cannot be the last step)' : 'it cannot be used as a transformer');
    return c;
  }

  private nested<T>(run: () => T): T {
    if (++this.depth > MAX_NESTING) throw new UnsupportedModelError('model', `estimators nested more than ${MAX_NESTING} deep`);
    try {
      return run();
    } finally {
      this.depth--;
    }
  }

  /** Runs the converter of `est` as a transformer. */
  transform(est: Estimator, input: Value): Value {
    const c = this.converter(est, 'transform');
    return this.nested(() => (c.transform as NonNullable<Converter['transform']>)(est, input, this));
  }

  /** Runs the converter of `est` as the final estimator. */
  predict(est: Estimator, input: Value): Prediction {
    const c = this.converter(est, 'predict');
    return this.nested(() => (c.predict as NonNullable<Converter['predict']>)(est, input, this));
  }

  columnLabel(c: number): string {
    const col = this.columns[c];
    return col.name !== undefined ? `'${col.name}'` : `${col.index}`;
  }

  private slot(list: number[], c: number): number {
    const at = list.indexOf(c);
    if (at !== -1) return at;
    list.push(c);
    return list.length - 1;
  }

  private gatherColumns(matrix: string, slots: number[]): string {
    return this.g.op('Gather', [matrix, this.g.int64(slots)], { axis: { i: 1 } });
  }

  /** The value as a float64 matrix; string data is refused (scikit-learn would fail to convert it). */
  numeric(v: Value, who: Estimator): Extract<Value, { kind: 'numeric' }> {
    if (v.kind === 'numeric') return v;
    if (v.kind === 'strings') who.refuse('it needs numbers but receives string columns');
    this.numericInput ??= this.g.input('X_numeric', 'float64', ['N', 'numeric_columns']);
    const slots = v.columns.map((c) => this.slot(this.numericColumns, c));
    return { kind: 'numeric', name: this.gatherColumns(this.numericInput, slots), width: slots.length };
  }

  /** The value as strings with a None mask; numbers are refused here (converters handle numeric data themselves). */
  strings(v: Value, who: Estimator): Extract<Value, { kind: 'strings' }> {
    if (v.kind === 'strings') return v;
    if (v.kind === 'numeric') who.refuse('it needs string columns but receives numbers');
    this.stringInput ??= {
      values: this.g.input('X_string', 'string', ['N', 'string_columns']),
      none: this.g.input('X_string_none', 'bool', ['N', 'string_columns']),
    };
    const slots = v.columns.map((c) => this.slot(this.stringColumns, c));
    return {
      kind: 'strings',
      name: this.gatherColumns(this.stringInput.values, slots),
      none: this.gatherColumns(this.stringInput.none, slots),
      width: slots.length,
    };
  }

  /**
   * Gives the inputs their final column counts. A fixed width lets onnxruntime check a feed's
   * shape, and lets the session runner's `auto` rule time the graph on zero inputs (with a
   * symbolic width it feeds one column, which the column Gathers reject).
   */
  fixInputWidths(): void {
    if (this.numericInput !== undefined) this.g.reshapeInput(this.numericInput, ['N', this.numericColumns.length]);
    if (this.stringInput !== undefined) {
      this.g.reshapeInput(this.stringInput.values, ['N', this.stringColumns.length]);
      this.g.reshapeInput(this.stringInput.none, ['N', this.stringColumns.length]);
    }
  }

  /** Graph input names, once compilation is over (undefined when no step reads that kind). */
  get inputNames(): { numeric?: string; strings?: { values: string; none: string } } {
    return { numeric: this.numericInput, strings: this.stringInput };
  }

  /** Fails the request when any element of a row of `flags` (bool [N, k]) is set. */
  assert(flags: string, message: string): void {
    this.assertions.push({ output: math.anyPerRow(this.g, flags), message });
  }

  /**
   * scikit-learn's `check_array` on float data: infinity is always refused, NaN unless
   * `allowNaN`. `dtype` is the dtype scikit-learn converts to first (float32 overflows to inf).
   */
  assertFinite(x: string, who: Estimator, opts: { allowNaN: boolean; dtype?: 'float32' | 'float64' }): void {
    const dtype = opts.dtype ?? 'float64';
    const checked = dtype === 'float32' ? this.g.op('Cast', [x], { to: { i: 1 } }) : x;
    this.assert(this.g.op('IsInf', [checked]), `Input X contains infinity or a value too large for dtype('${dtype}') (${who.name}).`);
    if (!opts.allowNaN)
      this.assert(this.g.op('IsNaN', [checked]), `Input X contains NaN (${who.name} does not accept missing values encoded as NaN).`);
  }

  refuse(where: string, reason: string): never {
    throw new UnsupportedModelError(where, reason);
  }
}
