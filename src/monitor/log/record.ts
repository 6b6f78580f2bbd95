/** One logged inference: the request's facts once, its rows and predictions side by side. */
import type { Row } from './rows.js';

export interface LoggedInference {
  readonly id: string;
  /** ISO-8601, when the request was answered. */
  readonly time: string;
  readonly model: string;
  readonly version: string;
  /** `primary`, `canary`, `shadow` or a pinned route's name. */
  readonly route: string;
  readonly latencyMs: number;
  /** The HTTP status the caller got (the shadow's own outcome for `shadow`). */
  readonly status: number;
  /** The error code when the status is not 200. */
  readonly error?: string;
  readonly inputs: readonly Row[];
  readonly predictions: readonly Row[];
}

/** The JSON-lines form: one line per input row, each with the request's facts. */
export function recordLines(r: LoggedInference): string {
  const head = { id: r.id, time: r.time, model: r.model, version: r.version, route: r.route, latency_ms: r.latencyMs, status: r.status };
  if (r.inputs.length === 0) return `${JSON.stringify({ ...head, ...(r.error === undefined ? {} : { error: r.error }), row: null })}\n`;
  // The request's facts serialised once, each row's own fields appended: the same line as
  // JSON.stringify({...head, row, rows, input, prediction}), at a fraction of the cost.
  const facts = JSON.stringify(head).slice(0, -1);
  const field = (name: string, v: unknown) => (v === undefined ? '' : `,"${name}":${JSON.stringify(v)}`);
  const n = r.inputs.length;
  let out = '';
  for (let i = 0; i < n; i++) {
    const prediction = r.predictions.length === n ? r.predictions[i] : r.predictions[0];
    out += `${facts},"row":${i},"rows":${n}${field('input', r.inputs[i])}${field('prediction', prediction)}}\n`;
  }
  return out;
}
