/**
 * k6 load test, the `csv` scenario of `npm run bench`: ROWS iris rows (default 100) as `text/csv`
 * (a header line of the four column names, then one line per row) to the iris ONNX model saved
 * with a column signature (`iris-columns`), or to the ONNX baseline, which splits the CSV itself.
 *
 *   npm run bench -- --prepare /tmp/mg-bench     (registers `iris-columns`, prints the serve commands)
 *   k6 run -e VUS=16 bench/k6/csv.ts
 */
import { envInteger, expectedModel, invocationsTarget, irisCsv, irisRows, iterate, loadOptions, setupTarget } from './common.ts';

const MODEL = expectedModel('iris-columns');
const ROWS = envInteger('ROWS', 100);
const TARGET = invocationsTarget(irisCsv(irisRows(ROWS, 3)), 'text/csv', ROWS, MODEL);

export const options = loadOptions({ model: MODEL, protocol: 'mlflow-rest', vus: 16, minRps: 500, p99Ms: 100 });

export function setup(): void {
  setupTarget(TARGET);
}

export default function (): void {
  iterate(TARGET);
}
