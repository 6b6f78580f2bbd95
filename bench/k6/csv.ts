/**
 * k6 load test, the `csv` scenario of `npm run bench`: 100 iris rows as `text/csv` (a header line
 * of the four column names, then one line per row) to the iris ONNX model saved with a column
 * signature (`iris-columns`), or to the ONNX baseline, which splits the CSV itself.
 *
 *   node dist/bench/run.js --prepare /tmp/mg-bench     (prints the serve commands)
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=16 -e ROWS=100 bench/k6/csv.ts
 */
import { invoke, irisCsv, irisRows, mlserverOptions } from './common.ts';

const BODY = irisCsv(irisRows(Number(__ENV.ROWS ?? '100'), 3));

export const options = mlserverOptions({ model: 'iris-columns', vus: 16, minRps: 500, p99Ms: 100 });

export default function (): void {
  invoke(BODY, 'text/csv');
}
