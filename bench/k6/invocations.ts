/**
 * k6 load test for POST /invocations, the `iris` scenario of `npm run bench` (iris ONNX, batch 1).
 *
 *   node dist/bench/run.js --prepare /tmp/mg-bench     (prints the serve commands)
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=16 -e DURATION=30s bench/k6/invocations.ts
 *
 * Scenario `mlserver` mirrors MLServer's published k6 setup (constant-vus, an http_reqs rate
 * threshold, tags for model and protocol) so figures can be set side by side. BATCH=n sends n
 * identical rows per request.
 */
import { invoke, irisRows, mlserverOptions } from './common.ts';

const BATCH = Number(__ENV.BATCH ?? '1');
const ROW = irisRows(1)[0];
const BODY = JSON.stringify({ inputs: Array.from({ length: BATCH }, () => ROW) });

export const options = mlserverOptions({ model: 'iris', vus: 16, minRps: 1000, p99Ms: 50 });

export default function (): void {
  invoke(BODY);
}
