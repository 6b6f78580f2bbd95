/**
 * For flavours whose model is not a pickle (XGBoost and LightGBM model files): a graph over one
 * float64 matrix of input columns, packaged as a {@link CompiledModel} so the feeds, checks,
 * label lookup and serving of this flavour apply unchanged.
 */
import { GraphBuilder, math } from '../../onnx/graph-builder.js';
import type { OnnxDType } from '../../onnx/writer.js';
import type { ModelSignature } from '../../schema/signature.js';
import type { CompiledModel, CompiledOutput } from './compile.js';
import type { InputColumn } from './context.js';
import { NdArray, NpDType } from './pickle/index.js';

export interface NativeOutput {
  readonly kind: CompiledOutput['kind'];
  readonly value: string;
  readonly dtype: OnnxDType;
  readonly shape: (number | string)[];
  readonly classes?: NdArray;
}

export interface NativeGraph {
  readonly output: NativeOutput;
  /** bool [N, k] flags: a row with any flag set is refused with `message`. */
  readonly checks?: readonly { readonly flags: string; readonly message: string }[];
}

/**
 * Which request columns feed the model, in order: the model's own feature names when it
 * validates them (`preferModelNames`), else the signature's column names (MLflow orders the
 * DataFrame by its signature before the model reads it by position), else positions.
 */
export function nativeColumns(
  n: number,
  modelNames: readonly string[] | undefined,
  signature: ModelSignature | undefined,
  preferModelNames: boolean,
): { columns: InputColumn[]; namesKnown: boolean } {
  const sig = signature?.inputs?.kind === 'columns' ? signature.inputs.inputs.map((c) => c.name) : undefined;
  const sigNames = sig !== undefined && sig.length === n && sig.every((s): s is string => typeof s === 'string') ? sig : undefined;
  const names = preferModelNames ? (modelNames ?? sigNames) : (sigNames ?? undefined);
  if (names === undefined || new Set(names).size !== n)
    return { columns: Array.from({ length: n }, (_, index) => ({ index })), namesKnown: false };
  return { columns: names.map((name, index) => ({ index, name })), namesKnown: true };
}

/** Class labels as an int64 array (the indices 0..n-1 when `values` is absent). */
export function intClasses(n: number, values?: readonly (number | bigint)[]): NdArray {
  const a = new NdArray();
  a.dtype = new NpDType('i', 8, '<i8');
  a.shape = [n];
  a.data = BigInt64Array.from(values ?? Array.from({ length: n }, (_, k) => k), (v) => BigInt(v));
  return a;
}

/** Compiles `emit(g, x)` over a float64 [N, columns] input named X_numeric. */
export function compileNative(
  columns: readonly InputColumn[],
  namesKnown: boolean,
  root: CompiledModel['root'],
  emit: (g: GraphBuilder, x: string) => NativeGraph,
): CompiledModel {
  const g = new GraphBuilder();
  const x = g.input('X_numeric', 'float64', ['N', columns.length]);
  const { output, checks = [] } = emit(g, x);
  const name = g.output(output.value, output.kind === 'label' ? 'label' : 'prediction', output.dtype, output.shape);
  const assertions = checks.map((c, k) => ({
    output: g.output(math.anyPerRow(g, c.flags), `check_${k}`, 'float64', ['N']),
    message: c.message,
  }));
  return {
    onnx: g.build(`compiled by modelgate from ${root.classPath}`),
    columns,
    namesKnown,
    numericColumns: columns.map((c) => c.index),
    stringColumns: [],
    inputNames: { numeric: x },
    output: { name, kind: output.kind, classes: output.classes },
    assertions,
    root,
  };
}
