/**
 * k6 load test, the `rows-1000` scenario of `npm run bench`: one 1,000-row iris request
 * (`{"inputs": [[…] × 1000]}`) per iteration, to the iris ONNX model or the ONNX baseline.
 *
 *   node dist/bench/run.js --prepare /tmp/mg-bench     (prints the serve commands)
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=16 -e ROWS=1000 bench/k6/rows-1000.ts
 */
import { inputsJson, invoke, irisRows, mlserverOptions } from './common.ts';

const BODY = inputsJson(irisRows(Number(__ENV.ROWS ?? '1000'), 2));

export const options = mlserverOptions({ model: 'iris', vus: 16, minRps: 100, p99Ms: 500 });

export default function (): void {
  invoke(BODY);
}
