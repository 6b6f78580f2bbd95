/**
 * A canary rollout under load: steady traffic on /invocations while the canary's weight ramps
 * from 0 to 100 through the admin API. Counts answers per version (from x-model-version) and
 * fails if any request fails during the rollout.
 *
 *   modelgate serve -m models:/iris@champion --canary models:/iris@challenger --canary-weight 0 \
 *     (with MODELGATE_ADMIN_TOKEN=secret)
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e ADMIN_TOKEN=secret -e STEPS=10 -e STEP_SECONDS=3 bench/k6/canary-rollout.ts
 */
import { check, sleep } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';

const BASE_URL = __ENV.BASE_URL ?? 'http://127.0.0.1:8080';
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN ?? '';
const STEPS = Number(__ENV.STEPS ?? '10');
const STEP_SECONDS = Number(__ENV.STEP_SECONDS ?? '3');
const VUS = Number(__ENV.VUS ?? '16');
const DURATION_S = (STEPS + 1) * STEP_SECONDS + 2;

const byVersion = new Counter('answers_by_version');
const BODY = JSON.stringify({ inputs: [[5.1, 3.5, 1.4, 0.2]] });

export const options: Options = {
  scenarios: {
    traffic: {
      executor: 'constant-vus',
      vus: VUS,
      duration: `${DURATION_S}s`,
      exec: 'traffic',
      tags: { model_name: 'iris', protocol: 'mlflow-rest' },
    },
    rollout: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'rollout', maxDuration: `${DURATION_S + 10}s` },
  },
  thresholds: {
    'http_req_failed{scenario:traffic}': ['rate==0'],
    'checks{scenario:traffic}': ['rate==1'],
  },
};

export function traffic(): void {
  const res = http.post(`${BASE_URL}/invocations`, BODY, { headers: { 'Content-Type': 'application/json' } });
  check(res, { 'status is 200': (r) => r.status === 200 });
  const version = res.headers['X-Model-Version'] ?? 'none';
  byVersion.add(1, { version });
}

export function rollout(): void {
  const headers = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' };
  for (let i = 0; i <= STEPS; i++) {
    const weight = Math.round((100 * i) / STEPS);
    const res = http.post(`${BASE_URL}/admin/weight`, JSON.stringify({ weight }), { headers });
    check(res, { 'weight set': (r) => r.status === 200 });
    sleep(STEP_SECONDS);
  }
}
