/**
 * Predictions to JSON text as MLflow's `predictions_to_json` writes them: an ndarray as a nested
 * list, a dict of arrays as an object, a DataFrame as records, all inside `{"predictions": …}`.
 */
import type { DataFrame, ModelOutput } from '../../schema/model-io.js';
import { ndarrayToPyJson, pyJson, pyString, rowToPyJson } from '../../util/py-json.js';

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
      let s = '{';
      for (const k in output.value) s += `${s.length === 1 ? '' : ', '}${pyString(k)}: ${ndarrayToPyJson(output.value[k])}`;
      return `${s}}`;
    }
    case 'dataframe':
      return recordsToPyJson(output.value);
    case 'json':
      return pyJson(output.value);
    case 'encoded':
      return output.text;
  }
}

export function encodePredictions(output: ModelOutput, unwrapped: boolean): string {
  const body = outputToPyJson(output);
  return unwrapped ? body : `{"predictions": ${body}}`;
}
