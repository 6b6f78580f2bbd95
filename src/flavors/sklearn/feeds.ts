/**
 * Request data → the compiled graph's inputs, as scikit-learn would receive it from MLflow: a
 * DataFrame's columns by name (`feature_names_in_`) or by position, a 2-D array by position.
 * Numeric cells become float64 (None → NaN, numeric strings parsed as Python's float() would);
 * string cells stay strings, None cells are flagged. A float NaN in a string column (what pandas
 * reads from an empty CSV field) is flagged too but holds {@link NAN_CELL} where a None cell
 * holds '': most steps treat both as missing, the imputer and encoders tell them apart as
 * scikit-learn does (`X != X` is true for NaN only).
 */
import { GatewayError } from '../../errors.js';
import type { ModelInput } from '../../schema/model-io.js';
import type { NDArray } from '../../schema/ndarray.js';
import type { CompiledModel } from './compile.js';

/** The string value of a flagged NaN cell; a flagged None cell holds ''. */
export const NAN_CELL = 'nan';

export interface Feeds {
  readonly rows: number;
  readonly numeric?: Float64Array;
  readonly strings?: string[];
  readonly none?: Uint8Array;
}

type Cells = (r: number) => unknown;

function bad(message: string): never {
  throw new GatewayError('INVALID_PARAMETER_VALUE', message);
}

const PY_FLOAT = /^[+-]?(?:\d+(?:_\d+)*(?:\.\d*(?:_\d+)*)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?$/;
const PY_SPECIAL = /^([+-]?)(nan|inf|infinity)$/i;

function toNumber(v: unknown, col: string): number {
  if (typeof v === 'number') return v;
  if (v === null || v === undefined) return NaN;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const s = v.trim();
    if (PY_FLOAT.test(s)) return Number(s.replaceAll('_', ''));
    const m = PY_SPECIAL.exec(s);
    if (m !== null) return m[2].toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
  }
  bad(`Column ${col} holds a value that cannot be converted to float.`);
}

function columnCells(a: NDArray, what: string): Cells {
  if (a.shape.length !== 1) bad(`${what} must hold one scalar per cell.`);
  const d = a.data as ArrayLike<unknown>;
  return (r) => d[r];
}

/** Accessors for the model's input columns, and the row count. */
function resolveColumns(model: CompiledModel, input: ModelInput): { rows: number; cells: Cells[] } {
  const width = model.columns.length;
  if (input.kind === 'tensor') {
    const a = input.value;
    if (a.shape.length !== 2) bad(`Expected a 2-D array (rows x ${width} features), got shape (${a.shape.join(', ')}).`);
    if (a.shape[1] !== width) bad(`X has ${a.shape[1]} features, but the model is expecting ${width} features as input.`);
    const d = a.data as ArrayLike<unknown>;
    return { rows: a.shape[0], cells: model.columns.map((c) => (r: number) => d[r * width + c.index]) };
  }
  let names: readonly (string | number)[];
  let values: readonly NDArray[];
  if (input.kind === 'dataframe') {
    names = input.value.columns;
    values = input.value.values;
  } else if (input.kind === 'tensors') {
    names = Object.keys(input.value);
    values = Object.values(input.value);
  } else {
    bad('scikit-learn models take a DataFrame or a 2-D array, not an LLM-style request body.');
  }
  const rows = values.length > 0 ? values[0].shape[0] : 0;
  if (!model.namesKnown) {
    if (names.length !== width) bad(`X has ${names.length} features, but the model is expecting ${width} features as input.`);
    return { rows, cells: values.map((v, i) => columnCells(v, `Column ${String(names[i])}`)) };
  }
  // Only the columns some step reads must be there (a ColumnTransformer's dropped columns need not be).
  const at = new Map(names.map((n, i) => [String(n), i]));
  const read = new Set([...model.numericColumns, ...model.stringColumns]);
  const missing = model.columns.filter((c) => read.has(c.index) && !at.has(c.name as string)).map((c) => `'${c.name}'`);
  if (missing.length > 0) bad(`The input is missing columns the model was fitted with: [${missing.join(', ')}].`);
  const none: Cells = () => null;
  return {
    rows,
    cells: model.columns.map((c) =>
      at.has(c.name as string) ? columnCells(values[at.get(c.name as string) as number], `Column '${c.name}'`) : none,
    ),
  };
}

export function buildFeeds(model: CompiledModel, input: ModelInput): Feeds {
  const { rows, cells } = resolveColumns(model, input);
  if (rows === 0) bad('Found array with 0 sample(s) while a minimum of 1 is required.');
  const label = (c: number) => (model.columns[c].name !== undefined ? `'${model.columns[c].name}'` : String(c));
  let numeric: Float64Array | undefined;
  if (model.numericColumns.length > 0) {
    const w = model.numericColumns.length;
    numeric = new Float64Array(rows * w);
    model.numericColumns.forEach((c, j) => {
      const get = cells[c];
      for (let r = 0; r < rows; r++) numeric![r * w + j] = toNumber(get(r), label(c));
    });
  }
  if (model.stringColumns.length === 0) return { rows, numeric };
  const w = model.stringColumns.length;
  const strings = new Array<string>(rows * w);
  const none = new Uint8Array(rows * w);
  model.stringColumns.forEach((c, j) => {
    const get = cells[c];
    for (let r = 0; r < rows; r++) {
      const v = get(r);
      if (typeof v === 'string') strings[r * w + j] = v;
      else if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) {
        strings[r * w + j] = v === null || v === undefined ? '' : NAN_CELL;
        none[r * w + j] = 1;
      } else bad(`Column ${label(c)} holds a non-string value; its encoder was fitted on strings.`);
    }
  });
  return { rows, numeric, strings, none };
}
