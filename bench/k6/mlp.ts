/**
 * k6 load test, the `mlp-batching` scenario of `npm run bench`: batch-1 requests to the
 * 1.3 M-parameter MLP (256 → 1024 → 1024 → 10). Run it against modelgate with batching on and
 * off, and against the baseline, at VUS=32 and VUS=64:
 *
 *   node dist/bench/run.js --prepare /tmp/mg-bench     (prints the serve commands)
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=64 -e DURATION=30s bench/k6/mlp.ts
 */
import { inputsJson, invoke, mlpRows, mlserverOptions } from './common.ts';

const BODY = inputsJson(mlpRows(Number(__ENV.BATCH ?? '1')));

export const options = mlserverOptions({ model: 'mlp', vus: 64, minRps: 500, p99Ms: 200 });

export default function (): void {
  invoke(BODY);
}
