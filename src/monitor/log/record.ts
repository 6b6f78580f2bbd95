/** One logged inference: the request's facts once, its rows and predictions side by side. */
import type { ModelInput, ModelOutput } from '../../schema/model-io.js';
import { inputTexts, outputTexts } from './rows.js';

/** A logged request's facts, as told to the log and as written in each of its lines. */
interface Served {
  readonly id: string;
  readonly model: string;
  readonly version: string;
  /** `primary`, `canary`, `shadow` or a pinned route's name. */
  readonly route: string;
  readonly latencyMs: number;
  /** The HTTP status the caller got (the shadow's own outcome for `shadow`). */
  readonly status: number;
  /** The error code when the status is not 200. */
  readonly error?: string;
}

/** What the log is told of a request it logs, as the request path left it. */
export interface LogEntry extends Served {
  /** Milliseconds since the epoch, when it was answered. */
  readonly time: number;
  readonly input?: ModelInput;
  readonly output?: ModelOutput;
}

export interface LoggedInference extends Served {
  /** ISO-8601, when the request was answered. */
  readonly time: string;
  /**
   * Each input row as JSON text, and each prediction: written when the request is observed, so
   * a record waiting for its sink holds a few strings, not a tree of values for the collector to
   * carry from one generation to the next.
   */
  readonly inputs: readonly string[];
  readonly predictions: readonly string[];
}

/** The JSON-lines form: one line per input row, each with the request's facts. */
export function recordLines(r: LoggedInference): string {
  // The request's facts serialised once, each row's own fields appended: the same line as
  // JSON.stringify({...facts, row, rows, input, prediction}), at a fraction of the cost.
  let facts = `{"id":${JSON.stringify(r.id)},"time":"${r.time}",${servedBy(r)},"latency_ms":${r.latencyMs},"status":${r.status}`;
  if (r.error !== undefined) facts += `,"error":${JSON.stringify(r.error)}`;
  const n = r.inputs.length;
  if (n === 0) return `${facts},"row":null}\n`;
  // One prediction per row, or one for the whole request (a failed request has none).
  const perRow = r.predictions.length === n;
  const whole = perRow || r.predictions.length === 0 ? '' : `,"prediction":${r.predictions[0]}`;
  let out = '';
  for (let i = 0; i < n; i++) {
    out += `${facts},"row":${i},"rows":${n},"input":${r.inputs[i]}${perRow ? `,"prediction":${r.predictions[i]}` : whole}}\n`;
  }
  return out;
}

/** The last record's model, version and route as JSON fields: a batch is mostly one model's. */
let served = { model: '', version: '', route: '', text: '' };

function servedBy(r: LoggedInference): string {
  if (r.model !== served.model || r.version !== served.version || r.route !== served.route) {
    const text = `"model":${JSON.stringify(r.model)},"version":${JSON.stringify(r.version)},"route":${JSON.stringify(r.route)}`;
    served = { model: r.model, version: r.version, route: r.route, text };
  }
  return served.text;
}

let lastMs = -1;
let lastIso = '';

/** A time in ISO-8601: formatted once a millisecond, however many requests end in it. */
export function isoTime(epochMs: number): string {
  const ms = Math.floor(epochMs);
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** An entry as its record: rows written as JSON text, the redacted fields left out. */
export function logRecord(e: LogEntry, redact: ReadonlySet<string>): LoggedInference {
  const inputs = e.input === undefined ? [] : inputTexts(e.input, redact);
  return {
    id: e.id,
    time: isoTime(e.time),
    model: e.model,
    version: e.version,
    route: e.route,
    latencyMs: Math.round(e.latencyMs * 1000) / 1000,
    status: e.status,
    error: e.error,
    inputs,
    predictions: e.output === undefined ? [] : outputTexts(e.output, inputs.length, redact),
  };
}
