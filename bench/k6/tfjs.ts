/**
 * k6 load test, the `tfjs` scenario of `npm run bench`: batch-1 JSON requests to the iris-sized
 * TF.js LayersModel (`iris-tfjs`, wasm backend) served by modelgate, or by the TF.js baseline.
 *
 *   node dist/bench/run.js --prepare /tmp/mg-bench     (prints the serve commands)
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=16 bench/k6/tfjs.ts
 */
import { inputsJson, invoke, irisRows, mlserverOptions } from './common.ts';

const BODY = inputsJson(irisRows(Number(__ENV.BATCH ?? '1')));

export const options = mlserverOptions({ model: 'iris-tfjs', vus: 16, minRps: 1000, p99Ms: 50 });

export default function (): void {
  invoke(BODY);
}
