/**
 * What the k6 scripts share: MLServer's published k6 setup (one `constant-vus` scenario tagged
 * with the model and protocol, an `http_reqs` rate threshold) and the request bodies of
 * `npm run bench`, generated the same way (mulberry32, same seeds), so k6 and autocannon figures
 * are for the same requests.
 *
 * Every script reads BASE_URL, VUS, DURATION, MIN_RPS and P99_MS from the environment
 * (`k6 run -e NAME=value …`); see each script for its defaults and its own variables.
 */
import { check } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';

export const BASE_URL = __ENV.BASE_URL ?? 'http://127.0.0.1:8080';

export interface LoadDefaults {
  /** The `model_name` tag. */
  model: string;
  vus: number;
  minRps: number;
  p99Ms: number;
  duration?: string;
}

/** MLServer's setup: constant VUs for a fixed time, failing the run below a request rate. */
export function mlserverOptions(d: LoadDefaults): Options {
  const vus = Number(__ENV.VUS ?? String(d.vus));
  const minRps = Number(__ENV.MIN_RPS ?? String(d.minRps));
  const p99Ms = Number(__ENV.P99_MS ?? String(d.p99Ms));
  return {
    scenarios: {
      mlserver: {
        executor: 'constant-vus',
        vus,
        duration: __ENV.DURATION ?? d.duration ?? '30s',
        tags: { model_name: d.model, protocol: 'mlflow-rest' },
      },
    },
    thresholds: {
      http_reqs: [`rate>=${minRps}`],
      http_req_failed: ['rate<0.001'],
      http_req_duration: [`p(99)<${p99Ms}`],
    },
  };
}

/** POST /invocations, checking the answer is an MLflow prediction. */
export function invoke(body: string, contentType = 'application/json'): void {
  const res = http.post(`${BASE_URL}/invocations`, body, {
    headers: { 'Content-Type': contentType },
    tags: { name: 'invocations' },
  });
  check(res, {
    'status is 200': (r) => r.status === 200,
    'has predictions': (r) => typeof r.body === 'string' && r.body.startsWith('{"predictions"'),
  });
}

/** mulberry32, as tools/onnx/models.ts: the bench's bodies are reproducible from a seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const IRIS_COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

/** The same rows as bench/lib/models.ts `irisRows(n, seed)`. */
export function irisRows(n: number, seed = 1): number[][] {
  const rand = mulberry32(seed);
  const lo = [4.3, 2.0, 1.0, 0.1];
  const hi = [7.9, 4.4, 6.9, 2.5];
  const rows: number[][] = [];
  for (let r = 0; r < n; r++) rows.push(lo.map((l, i) => Math.round((l + rand() * (hi[i] - l)) * 10) / 10));
  return rows;
}

/** The same rows as bench/lib/models.ts `mlpRows(n, seed)`: 256 values in [-1, 1]. */
export function mlpRows(n: number, seed = 1): number[][] {
  const rand = mulberry32(seed);
  const rows: number[][] = [];
  for (let r = 0; r < n; r++) {
    const row: number[] = [];
    for (let i = 0; i < 256; i++) row.push(Math.round((rand() * 2 - 1) * 1e4) / 1e4);
    rows.push(row);
  }
  return rows;
}

export const inputsJson = (rows: number[][]): string => JSON.stringify({ inputs: rows });

export const irisCsv = (rows: number[][]): string => `${IRIS_COLUMNS.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`;
