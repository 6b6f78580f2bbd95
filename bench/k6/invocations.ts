/**
 * k6 load test for POST /invocations, the same scenario as `npm run bench` (iris, batch 1).
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=16 -e DURATION=30s bench/k6/invocations.ts
 *
 * Scenario `mlserver` mirrors MLServer's published k6 setup (constant-vus, an http_reqs rate
 * threshold, tags for model and protocol) so figures can be set side by side.
 */
import { check } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';

const BASE_URL = __ENV.BASE_URL ?? 'http://127.0.0.1:8080';
const VUS = Number(__ENV.VUS ?? '16');
const DURATION = __ENV.DURATION ?? '30s';
const MIN_RPS = Number(__ENV.MIN_RPS ?? '1000');
const BATCH = Number(__ENV.BATCH ?? '1');

const ROW = [5.1, 3.5, 1.4, 0.2];
const BODY = JSON.stringify({ inputs: Array.from({ length: BATCH }, () => ROW) });

export const options: Options = {
  scenarios: {
    mlserver: {
      executor: 'constant-vus',
      vus: VUS,
      duration: DURATION,
      tags: { model_name: 'iris', protocol: 'mlflow-rest' },
    },
  },
  thresholds: {
    http_reqs: [`rate>=${MIN_RPS}`],
    http_req_failed: ['rate<0.001'],
    http_req_duration: ['p(99)<50'],
  },
};

export default function (): void {
  const res = http.post(`${BASE_URL}/invocations`, BODY, {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'invocations' },
  });
  check(res, {
    'status is 200': (r) => r.status === 200,
    'has predictions': (r) => typeof r.body === 'string' && r.body.startsWith('{"predictions"'),
  });
}
