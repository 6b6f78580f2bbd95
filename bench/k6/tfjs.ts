/**
 * k6 load test, the `tfjs` scenario of `npm run bench`: JSON requests of BATCH rows (default 1) to
 * the iris-sized TF.js LayersModel (`iris-tfjs`, wasm backend) served by modelgate, or by the TF.js
 * baseline. Answers must come from `iris-tfjs`: an ONNX iris on the same port fails the run.
 *
 *   npm run bench -- --prepare /tmp/mg-bench     (registers `iris-tfjs`, prints the serve commands)
 *   k6 run -e VUS=16 bench/k6/tfjs.ts
 */
import { envInteger, expectedModel, inputsJson, invocationsTarget, irisRows, iterate, loadOptions, setupTarget } from './common.ts';

const MODEL = expectedModel('iris-tfjs');
const BATCH = envInteger('BATCH', 1);
const TARGET = invocationsTarget(inputsJson(irisRows(BATCH)), 'application/json', BATCH, MODEL);

export const options = loadOptions({ model: MODEL, protocol: 'mlflow-rest', vus: 16, minRps: 1000, p99Ms: 50 });

export function setup(): void {
  setupTarget(TARGET);
}

export default function (): void {
  iterate(TARGET);
}
