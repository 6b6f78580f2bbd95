/**
 * Named features from logged rows: a table row's columns, a tensor row's positions (named after
 * the reference's columns when the widths agree, so a CSV profile fits a tensor model), and the
 * prediction's fields under `prediction`.
 */
import type { Row } from '../log/rows.js';

export type Features = Map<string, unknown>;

function flatten(prefix: string, v: unknown, out: Features, names?: readonly string[]): void {
  if (Array.isArray(v)) {
    const named = names !== undefined && names.length === v.length;
    v.forEach((x, i) => flatten(named ? names[i] : `${prefix}[${i}]`, x, out));
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) flatten(prefix === '' ? k : `${prefix}.${k}`, x, out);
  } else {
    out.set(prefix === '' ? 'input' : prefix, v);
  }
}

/** The features of one input row and its prediction. `inputNames`: the reference's input features in order. */
export function rowFeatures(input: Row, prediction: Row, inputNames?: readonly string[]): Features {
  const out: Features = new Map();
  flatten(Array.isArray(input) ? 'input' : '', input, out, Array.isArray(input) ? inputNames : undefined);
  flatten('prediction', prediction, out);
  return out;
}
