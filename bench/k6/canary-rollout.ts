/**
 * A canary rollout under load: steady traffic on /invocations (scenario `traffic`) while a second
 * VU (scenario `rollout`) ramps the canary's weight from 0 to 100 in STEPS steps through the admin
 * API. After each weight change the rollout VU sends PROBES requests of its own and measures the
 * canary's share of them by x-model-version: 0 at weight 0, 1 at weight 100, and within five
 * binomial standard deviations of the weight in between. The run fails if an admin call is
 * refused, if the split does not follow the weights, if any request fails, or if either version
 * never answered the traffic.
 *
 * The server needs an admin token and two registered versions (bench/README.md, "k6"):
 *
 *   MODELGATE_ADMIN_TOKEN=secret npx modelgate serve -m models:/iris@champion \
 *     --canary models:/iris@challenger --canary-weight 0
 *   k6 run -e ADMIN_TOKEN=secret bench/k6/canary-rollout.ts
 *
 * It leaves the canary's weight at 100.
 */
import { check, sleep } from 'k6';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import {
  type Answer,
  BASE_URL,
  SETUP_TIMEOUT,
  SUMMARY_TREND_STATS,
  abort,
  bodyText,
  answersOk,
  describeAnswer,
  env,
  envInteger,
  envNumber,
  header,
  invocationsTarget,
  irisRows,
  loadThresholds,
  parseJson,
  requireModelgate,
  setupTarget,
} from './common.ts';

requireModelgate('canary-rollout.ts');

/** `30s`, `1m30s`, `500ms`: the k6 durations a user would pass as DURATION. */
function seconds(duration: string): number {
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(duration))
    throw new Error(`-e DURATION=${duration}: expected a duration like 30s, 1m30s or 500ms`);
  let total = 0;
  duration.replace(/(\d+(?:\.\d+)?)(ms|s|m|h)/g, (_, n: string, u: string) => {
    total += Number(n) * unit[u];
    return '';
  });
  return total;
}

const ADMIN_TOKEN = env('ADMIN_TOKEN', '');
const MODEL_NAME = env('MODEL_NAME', 'iris');
const PRIMARY_VERSION = env('PRIMARY_VERSION', '1');
const CANARY_VERSION = env('CANARY_VERSION', '2');
const STEPS = envInteger('STEPS', 10);
if (STEPS > 100) throw new Error(`-e STEPS=${STEPS}: at most 100 (weights are whole percents)`);
const DURATION_S = __ENV.DURATION ? seconds(__ENV.DURATION) : undefined;
// DURATION alone spreads the ramp over it; STEP_SECONDS alone sets the duration.
const STEP_SECONDS = envNumber('STEP_SECONDS', DURATION_S === undefined ? 3 : DURATION_S / (STEPS + 1), 0.1);
const RAMP_S = (STEPS + 1) * STEP_SECONDS;
if (DURATION_S !== undefined && DURATION_S + 1e-9 < RAMP_S) {
  throw new Error(
    `-e DURATION=${__ENV.DURATION} is shorter than the ramp (${STEPS + 1} steps × ${STEP_SECONDS} s): lower STEPS or STEP_SECONDS`,
  );
}
const TRAFFIC_S = DURATION_S ?? RAMP_S;
const PROBES = envInteger('PROBES', 200);
/** With several workers a weight reaches the others over IPC, a little after the admin call returns. */
const SETTLE_S = Math.min(0.25, STEP_SECONDS / 4);

const WEIGHTS = Array.from({ length: STEPS + 1 }, (_, i) => Math.round((100 * i) / STEPS));

/** The canary shares PROBES random draws at `weight` can give: ±5 binomial standard deviations, exact at 0 and 100. */
function band(weight: number): [number, number] {
  const p = weight / 100;
  const half = 5 * Math.sqrt((p * (1 - p)) / PROBES);
  return [Math.max(0, Math.floor((p - half) * 1e4) / 1e4), Math.min(1, Math.ceil((p + half) * 1e4) / 1e4)];
}

const TRAFFIC = invocationsTarget(JSON.stringify({ inputs: irisRows(1) }), 'application/json', 1, {
  name: MODEL_NAME,
  versions: [PRIMARY_VERSION, CANARY_VERSION],
});
const answersByVersion = new Counter('answers_by_version');
const canaryShare = new Trend('canary_share');
const rolloutStepsOk = new Counter('rollout_steps_ok');

function shareThresholds(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const w of WEIGHTS) {
    const [lo, hi] = band(w);
    out[`canary_share{weight:${w}}`] = [`min>=${lo}`, `max<=${hi}`];
  }
  return out;
}

export const options: Options = {
  scenarios: {
    traffic: {
      executor: 'constant-vus',
      vus: envInteger('VUS', 16),
      duration: `${Math.round(TRAFFIC_S * 1000)}ms`,
      exec: 'traffic',
      tags: { model_name: MODEL_NAME, protocol: 'mlflow-rest' },
    },
    rollout: {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: 1,
      exec: 'rollout',
      maxDuration: `${Math.ceil(RAMP_S) + 60}s`,
    },
  },
  thresholds: {
    ...loadThresholds('traffic', `rate>=${envNumber('MIN_RPS', 500)}`, envNumber('P99_MS', 100)),
    'checks{kind:admin}': ['rate==1'],
    'checks{kind:split}': ['rate==1'],
    // An empty `checks` subset passes (grafana/k6#4283): a rollout that never ran must not.
    rollout_steps_ok: [`count==${WEIGHTS.length}`],
    [`answers_by_version{version:${PRIMARY_VERSION}}`]: ['count>0'],
    [`answers_by_version{version:${CANARY_VERSION}}`]: ['count>0'],
    ...shareThresholds(),
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  setupTimeout: SETUP_TIMEOUT,
};

const adminParams = (name: string) => ({
  headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
  tags: { name },
});

function adminRefusal(res: Answer): string {
  if (res.status === 401) {
    return ADMIN_TOKEN === ''
      ? 'the admin API needs a token: run with -e ADMIN_TOKEN=<one of the server’s MODELGATE_ADMIN_TOKEN>'
      : 'the admin API refused -e ADMIN_TOKEN (401): pass one of the server’s MODELGATE_ADMIN_TOKEN';
  }
  if (res.status === 404 || res.status === 405) {
    return `${BASE_URL} has no admin API (${res.status}): start the server with MODELGATE_ADMIN_TOKEN=<token> (it is off without one)`;
  }
  return `GET /admin/routes answered ${describeAnswer(res)}`;
}

interface SlotStatus {
  route?: string;
  version?: string;
  state?: string;
}

/** The versions the rollout moves between must be the ones the thresholds count answers for. */
function checkRoutes(res: Answer): void {
  if (res.status !== 200) abort(adminRefusal(res));
  const slots = (parseJson(bodyText(res)) as { slots?: SlotStatus[] } | undefined)?.slots ?? [];
  const primary = slots.find((s) => s.route === 'primary');
  const canary = slots.find((s) => s.route === 'canary');
  if (canary === undefined)
    abort(`${BASE_URL} serves no canary: start it with --canary models:/${MODEL_NAME}@challenger (bench/README.md, "k6")`);
  if (canary.state !== 'ready') abort(`the canary (${canary.version ?? 'no version'}) is ${canary.state}, not ready`);
  const served = `primary version ${primary?.version} and canary version ${canary.version}`;
  if (primary?.version === canary.version)
    abort(`both routes serve version ${canary.version}: register a challenger (bench/README.md, "k6")`);
  if (primary?.version !== PRIMARY_VERSION || canary.version !== CANARY_VERSION) {
    abort(`${BASE_URL} serves ${served}: run with -e PRIMARY_VERSION=${primary?.version} -e CANARY_VERSION=${canary.version}`);
  }
}

export function setup(): void {
  setupTarget(TRAFFIC);
  checkRoutes(http.get(`${BASE_URL}/admin/routes`, adminParams('admin-routes')));
}

export function traffic(): void {
  const res = TRAFFIC.send();
  if (check(res, TRAFFIC.checks)) answersOk.add(1);
  answersByVersion.add(1, { version: header(res, 'x-model-version') ?? 'none' });
}

const PROBE_BODY = JSON.stringify({ inputs: irisRows(1) });

/** The canary's share of PROBES answers, or undefined if any probe failed or came from a third version. */
function probeShare(): number | undefined {
  let canary = 0;
  for (let i = 0; i < PROBES; i++) {
    const res = http.post(`${BASE_URL}/invocations`, PROBE_BODY, {
      headers: { 'Content-Type': 'application/json' },
      tags: { name: 'probe' },
    });
    const version = header(res, 'x-model-version');
    if (res.status !== 200 || (version !== PRIMARY_VERSION && version !== CANARY_VERSION)) return undefined;
    if (version === CANARY_VERSION) canary++;
  }
  return canary / PROBES;
}

function rolloutStep(weight: number): boolean {
  const set = http.post(`${BASE_URL}/admin/weight`, JSON.stringify({ weight }), adminParams('admin-weight'));
  const setOk = check(set, { 'admin: weight set (200)': (r) => r.status === 200 }, { kind: 'admin' });
  sleep(SETTLE_S);
  const share = probeShare();
  // A failed probe is recorded as a share of 1.5, outside every band, so that step's threshold fails too.
  canaryShare.add(share ?? 1.5, { weight: String(weight) });
  const [lo, hi] = band(weight);
  const splitOk = check(
    share,
    { 'split: canary share follows the weight': (s) => s !== undefined && s >= lo && s <= hi },
    { kind: 'split' },
  );
  return setOk && splitOk;
}

export function rollout(): void {
  const t0 = Date.now();
  WEIGHTS.forEach((weight, i) => {
    if (rolloutStep(weight)) rolloutStepsOk.add(1);
    const left = t0 + (i + 1) * STEP_SECONDS * 1000 - Date.now();
    if (left > 0) sleep(left / 1000);
  });
}
