/** V2 tensor datatypes and the dtypes they stand for. */
import type { DType } from '../../schema/ndarray.js';

export const DATATYPE_DTYPE: Readonly<Record<string, DType>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'str',
};
export const DATATYPES = Object.keys(DATATYPE_DTYPE).join(', ');

export function v2Datatype(dtype: DType): string {
  switch (dtype) {
    case 'bool':
      return 'BOOL';
    case 'float16':
      return 'FP16';
    case 'float32':
      return 'FP32';
    case 'float64':
      return 'FP64';
    case 'str':
    case 'bytes':
    case 'object':
      return 'BYTES';
    default:
      return dtype.toUpperCase();
  }
}
