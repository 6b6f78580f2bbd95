/**
 * k6 load test for POST /invocations, the `iris` scenario of `npm run bench` (iris ONNX, batch 1):
 * BATCH=n sends n identical rows per request.
 *
 *   npx modelgate demo                      (iris as models:/iris@champion on :8080)
 *   k6 run -e VUS=16 -e DURATION=30s bench/k6/invocations.ts
 */
import { envInteger, expectedModel, invocationsTarget, irisRows, iterate, loadOptions, setupTarget } from './common.ts';

const MODEL = expectedModel('iris');
const BATCH = envInteger('BATCH', 1);
const ROW = irisRows(1)[0];
const TARGET = invocationsTarget(JSON.stringify({ inputs: Array.from({ length: BATCH }, () => ROW) }), 'application/json', BATCH, MODEL);

export const options = loadOptions({ model: MODEL, protocol: 'mlflow-rest', vus: 16, minRps: 1000, p99Ms: 50 });

export function setup(): void {
  setupTarget(TARGET);
}

export default function (): void {
  iterate(TARGET);
}
