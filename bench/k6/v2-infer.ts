/**
 * k6 load test for the Open Inference Protocol: POST /v2/models/{MODEL_NAME}/infer (or
 * /versions/{MODEL_VERSION}/infer when MODEL_VERSION is set) with BATCH iris rows (default 1) as one
 * FP32 tensor named INPUT_NAME (default `input`, the demo iris model's input).
 *
 *   npx modelgate demo                      (iris as models:/iris@champion on :8080)
 *   k6 run -e VUS=16 -e DURATION=30s bench/k6/v2-infer.ts
 */
import { env, envInteger, expectedModel, irisRows, iterate, loadOptions, requireModelgate, setupTarget } from './common.ts';
import { v2Target } from './v2.ts';

requireModelgate('v2-infer.ts');
const MODEL = expectedModel('iris');
const TARGET = v2Target(MODEL, env('INPUT_NAME', 'input'), irisRows(envInteger('BATCH', 1)));

export const options = loadOptions({ model: MODEL, protocol: 'v2-rest', vus: 16, minRps: 1000, p99Ms: 50 });

export function setup(): void {
  setupTarget(TARGET);
}

export default function (): void {
  iterate(TARGET);
}
