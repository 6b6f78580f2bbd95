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
  let out = '';
  for (let i = 0; i < r.inputs.length; i++) {
    const line = {
      ...head,
      row: i,
      rows: r.inputs.length,
      input: r.inputs[i],
      prediction: r.predictions.length === r.inputs.length ? r.predictions[i] : r.predictions[0],
    };
    out += `${JSON.stringify(line)}\n`;
  }
  return out;
}
