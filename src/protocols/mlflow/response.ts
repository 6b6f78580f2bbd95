/**
 * Predictions to JSON text as MLflow's `predictions_to_json` writes them: an ndarray as a nested
 * list, a dict of arrays as an object, a DataFrame as records, all inside `{"predictions": …}`.
 */
import type { DataFrame, ModelOutput } from '../../schema/model-io.js';
import { ndarrayToPyJson, rowToPyJson } from '../../schema/ndarray-json.js';
import { TextLimitError, pyJson, pyString } from '../../util/py-json.js';

function recordsToPyJson(df: DataFrame, limit: number): string {
  const keys = df.columns.map((c) => `${pyString(String(c))}: `);
  const parts: string[] = ['['];
  let size = 1;
  for (let r = 0; r < df.rows; r++) {
    const row: string[] = [r === 0 ? '{' : ', {'];
    for (let c = 0; c < keys.length; c++) row.push(c === 0 ? keys[c] : `, ${keys[c]}`, rowToPyJson(df.values[c], r));
    row.push('}');
    const text = row.join('');
    size += text.length;
    if (size > limit) throw new TextLimitError(limit);
    parts.push(text);
  }
  parts.push(']');
  return parts.join('');
}

/** The predictions as JSON text; past `limit` characters, a TextLimitError (nothing more is written). */
export function outputToPyJson(output: ModelOutput, limit = Infinity): string {
  switch (output.kind) {
    case 'tensor':
      return ndarrayToPyJson(output.value, false, limit);
    case 'tensors': {
      let s = '{';
      for (const k in output.value)
        s += `${s.length === 1 ? '' : ', '}${pyString(k)}: ${ndarrayToPyJson(output.value[k], false, limit - s.length)}`;
      return `${s}}`;
    }
    case 'dataframe':
      return recordsToPyJson(output.value, limit);
    case 'json':
      return pyJson(output.value);
    case 'encoded':
      return output.text;
  }
}

export function encodePredictions(output: ModelOutput, unwrapped: boolean, limit = Infinity): string {
  const body = outputToPyJson(output, limit);
  return unwrapped ? body : `{"predictions": ${body}}`;
}
