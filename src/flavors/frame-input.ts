/**
 * DataFrame → tensor feeds as MLflow's tensor flavours build them: `df.values` for a model with
 * one input, one column per input otherwise (list cells stacked into a tensor). For flavours
 * whose runtime takes tensors; the enforcer already does this when the signature is tensor-based,
 * so these only run for column-based signatures.
 */
import { GatewayError } from '../errors.js';
import type { DataFrame } from '../schema/model-io.js';
import { DTYPES, type DType, type NDArray, castArray, fromNested, isNumericDType } from '../schema/ndarray.js';

/** `df.values` of a DataFrame with scalar columns, typed for one input. */
export function frameMatrix(df: DataFrame, dtype: DType): NDArray {
  const width = df.columns.length;
  const rows = df.rows;
  const data = DTYPES[dtype].alloc(rows * width) as unknown[];
  for (let c = 0; c < width; c++) {
    let col = df.values[c];
    if (col.shape.length !== 1) {
      throw new GatewayError('INVALID_PARAMETER_VALUE', 'A DataFrame fed to a single-input model must hold one scalar per cell.');
    }
    if (col.dtype === 'object') col = fromNested(col.data as unknown[], dtype);
    else if (col.dtype !== dtype && isNumericDType(col.dtype) && isNumericDType(dtype)) col = castArray(col, dtype);
    const src = col.data as ArrayLike<unknown>;
    for (let r = 0; r < rows; r++) data[r * width + c] = src[r];
  }
  return { dtype, shape: [rows, width], data: data as NDArray['data'] };
}

/** One named column as a tensor: (N,) for scalar cells, (N, …) for list cells. */
export function frameColumnTensor(df: DataFrame, name: string): NDArray {
  const i = df.columns.indexOf(name);
  if (i === -1) throw new GatewayError('INVALID_PARAMETER_VALUE', `Model is missing inputs ['${name}'].`);
  const col = df.values[i];
  if (col.dtype !== 'object') return col;
  const cells = col.data as unknown[];
  return fromNested(cells, cells.every((c) => typeof c === 'string') ? 'str' : 'float64');
}
