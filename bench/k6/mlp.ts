/**
 * k6 load test, the `mlp-batching` scenario of `npm run bench`: requests of BATCH rows (default 1)
 * to the 1.3 M-parameter MLP (256 → 1024 → 1024 → 10). Run it against modelgate with batching on
 * and off, and against the baseline, at VUS=32 and VUS=64:
 *
 *   npm run bench -- --prepare /tmp/mg-bench     (registers `mlp`, prints the serve commands)
 *   k6 run -e VUS=64 -e DURATION=30s bench/k6/mlp.ts
 */
import { envInteger, expectedModel, inputsJson, invocationsTarget, iterate, loadOptions, mlpRows, setupTarget } from './common.ts';

const MODEL = expectedModel('mlp');
const BATCH = envInteger('BATCH', 1);
const TARGET = invocationsTarget(inputsJson(mlpRows(BATCH)), 'application/json', BATCH, MODEL);

export const options = loadOptions({ model: MODEL, protocol: 'mlflow-rest', vus: 64, minRps: 500, p99Ms: 200 });

export function setup(): void {
  setupTarget(TARGET);
}

export default function (): void {
  iterate(TARGET);
}
