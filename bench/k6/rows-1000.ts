/**
 * k6 load test, the `rows-1000` scenario of `npm run bench`: one request of ROWS iris rows
 * (default 1,000, `{"inputs": [[…] × 1000]}`) per iteration, to the iris ONNX model or the ONNX
 * baseline.
 *
 *   npx modelgate demo                      (iris as models:/iris@champion on :8080)
 *   k6 run -e VUS=16 bench/k6/rows-1000.ts
 */
import { envInteger, expectedModel, inputsJson, invocationsTarget, irisRows, iterate, loadOptions, setupTarget } from './common.ts';

const MODEL = expectedModel('iris');
const ROWS = envInteger('ROWS', 1000);
const TARGET = invocationsTarget(inputsJson(irisRows(ROWS, 2)), 'application/json', ROWS, MODEL);

export const options = loadOptions({ model: MODEL, protocol: 'mlflow-rest', vus: 16, minRps: 100, p99Ms: 500 });

export function setup(): void {
  setupTarget(TARGET);
}

export default function (): void {
  iterate(TARGET);
}
