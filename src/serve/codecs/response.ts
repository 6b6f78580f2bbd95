/**
 * Predictions to JSON text as MLflow's `predictions_to_json` writes them: an ndarray as a nested
 * list, a dict of arrays as an object, a DataFrame as records, all inside `{"predictions": …}`.
 */
import type { DataFrame, ModelOutput } from '../../schema/model-io.js';
import { type NDArray, shapeSize } from '../../schema/ndarray.js';
import { elementToPyJson, ndarrayToPyJson, pyJson, pyString } from '../../util/py-json.js';

/** Row `r` of an N-D array as nested JSON (a scalar for 1-D arrays). */
function rowToPyJson(a: NDArray, r: number): string {
  if (a.shape.length <= 1) return elementToPyJson(a, r);
  const inner = a.shape.slice(1);
  const size = shapeSize(inner);
  const data = a.data as { slice?: (s: number, e: number) => NDArray['data'] };
  const sub = (data.slice as (s: number, e: number) => NDArray['data']).call(a.data, r * size, (r + 1) * size);
  return ndarrayToPyJson({ dtype: a.dtype, shape: inner, data: sub });
}

function recordsToPyJson(df: DataFrame): string {
  const keys = df.columns.map((c) => `${pyString(String(c))}: `);
  const parts: string[] = ['['];
  for (let r = 0; r < df.rows; r++) {
    parts.push(r === 0 ? '{' : ', {');
    for (let c = 0; c < keys.length; c++) parts.push(c === 0 ? keys[c] : `, ${keys[c]}`, rowToPyJson(df.values[c], r));
    parts.push('}');
  }
  parts.push(']');
  return parts.join('');
}

export function outputToPyJson(output: ModelOutput): string {
  switch (output.kind) {
    case 'tensor':
      return ndarrayToPyJson(output.value);
    case 'tensors': {
      const entries = Object.entries(output.value);
      return `{${entries.map(([k, v]) => `${pyString(k)}: ${ndarrayToPyJson(v)}`).join(', ')}}`;
    }
    case 'dataframe':
      return recordsToPyJson(output.value);
    case 'json':
      return pyJson(output.value);
  }
}

export function encodePredictions(output: ModelOutput, unwrapped: boolean): string {
  const body = outputToPyJson(output);
  return unwrapped ? body : `{"predictions": ${body}}`;
}
