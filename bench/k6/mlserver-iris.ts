/**
 * MLServer's published k6 benchmark on modelgate, for figures that compare with MLServer's own
 * (SeldonIO/MLServer benchmarking/scenarios/inference-rest.js: 1,300 req/s, avg 227 ms on REST):
 * scenario `iris_rest`, `constant-vus`, 300 VUs for 60 s, V2 REST inference on iris with its
 * request (one row, [1, 2, 3, 4], shape [1, 4], FP32) and its threshold `http_reqs rate > 1100`.
 * VUS and DURATION are deliberately not read: changed, the figures would no longer compare. Ours
 * on top: every check, no failed request, p99 under P99_MS.
 *
 * MLServer names its input `input-0`; modelgate takes inputs by the signature's names, so this
 * sends INPUT_NAME (default `input`, the demo iris model's).
 *
 *   npx modelgate serve -m models:/iris@champion --max-in-flight 512
 *   k6 run bench/k6/mlserver-iris.ts
 */
import type { Options } from 'k6/options';
import {
  SETUP_TIMEOUT,
  SUMMARY_TREND_STATS,
  env,
  envNumber,
  expectedModel,
  iterate,
  loadThresholds,
  requireModelgate,
  setupTarget,
} from './common.ts';
import { v2Target } from './v2.ts';

requireModelgate('mlserver-iris.ts');
const MODEL = expectedModel('iris');
const TARGET = v2Target(MODEL, env('INPUT_NAME', 'input'), [[1, 2, 3, 4]]);

export const options: Options = {
  scenarios: {
    iris_rest: {
      executor: 'constant-vus',
      duration: '60s',
      vus: 300,
      tags: { model_name: MODEL.name, protocol: 'rest' },
    },
  },
  thresholds: loadThresholds('iris_rest', 'rate>1100', envNumber('P99_MS', 500)),
  summaryTrendStats: SUMMARY_TREND_STATS,
  setupTimeout: SETUP_TIMEOUT,
};

export function setup(): void {
  setupTarget(TARGET);
}

export default function (): void {
  iterate(TARGET);
}
