/**
 * What the k6 scripts share: MLServer's published k6 setup (a `constant-vus` scenario tagged with
 * the model and protocol, an `http_reqs` rate threshold), the thresholds that make a run fail, the
 * readiness wait of every `setup()`, and the request bodies of `npm run bench`, generated the same
 * way (mulberry32, same seeds), so k6 and autocannon figures are for the same requests.
 *
 * Every script reads BASE_URL, MODEL_NAME, MODEL_VERSION and READY_TIMEOUT, and the load scripts
 * VUS, DURATION, MIN_RPS and P99_MS (`k6 run -e NAME=value …`); bench/README.md lists them all.
 */
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http, { type RefinedResponse, type ResponseType } from 'k6/http';
import { Counter } from 'k6/metrics';
import type { ConstantVUsScenario, Options } from 'k6/options';

export type Answer = RefinedResponse<ResponseType | undefined>;

/** `-e NAME=value`, or `fallback` when unset or empty. */
export function env(name: string, fallback: string): string {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

/** A typo in a number must stop the run at once, not turn a threshold into `rate>=NaN`. */
export function envNumber(name: string, fallback: number, min = 0): number {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`-e ${name}=${raw}: expected a number ≥ ${min}`);
  return n;
}

export function envInteger(name: string, fallback: number, min = 1): number {
  const n = envNumber(name, fallback, min);
  if (!Number.isInteger(n)) throw new Error(`-e ${name}=${__ENV[name]}: expected a whole number`);
  return n;
}

export const BASE_URL = env('BASE_URL', 'http://127.0.0.1:8080');
const READY_TIMEOUT_S = envNumber('READY_TIMEOUT', 60, 0.1);

/**
 * `SERVER=baseline` runs a load script against a `bench/baselines` server, which has no /ready and
 * sends no x-model-* headers: setup then waits for the script's own request to answer, and the
 * checks of which model answered are left out (the baseline serves the one model it was given).
 */
const SERVER = env('SERVER', 'modelgate');
if (SERVER !== 'modelgate' && SERVER !== 'baseline') throw new Error(`-e SERVER=${SERVER}: expected modelgate or baseline`);
export const AGAINST_BASELINE = SERVER === 'baseline';

export function requireModelgate(script: string): void {
  if (AGAINST_BASELINE) throw new Error(`${script} needs modelgate itself: no baseline speaks its protocol (drop -e SERVER=baseline)`);
}

/** p(99) is what the thresholds judge, so the summary must show it (k6's default stops at p(95)). */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(95)', 'p(99)'];

/** k6 kills a setup() that outlives setupTimeout (60 s by default) with a less helpful message than ours. */
export const SETUP_TIMEOUT = `${Math.ceil(READY_TIMEOUT_S) + 30}s`;

/**
 * Answers that passed every check. k6 passes a `checks` threshold that saw no check at all
 * (grafana/k6#4283), as when every iteration throws before its check: `count>0` on this counter
 * fails that run.
 */
export const answersOk = new Counter('answers_ok');

/** Stops the whole run (k6 exits 108) with a message saying what to fix. */
export function abort(message: string): never {
  exec.test.abort(message);
  throw new Error(message);
}

/** k6 canonicalises header names (`X-Model-Name`); look them up the way HTTP means them, in any case. */
export function header(res: Answer, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const k of Object.keys(res.headers)) if (k.toLowerCase() === want) return res.headers[k];
  return undefined;
}

export const bodyText = (res: Answer): string => (typeof res.body === 'string' ? res.body : '');

export function describeAnswer(res: Answer): string {
  if (res.status === 0) return `no answer (${res.error})`;
  return `${res.status} ${bodyText(res).slice(0, 300)}`;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The model the answers must come from: MODEL_NAME (the script's default) and, if given, MODEL_VERSION. */
export interface ModelExpectation {
  name: string;
  /** x-model-version must be one of these; undefined: any version. */
  versions?: readonly string[];
}

export function expectedModel(defaultName: string): ModelExpectation {
  const version = env('MODEL_VERSION', '');
  return { name: env('MODEL_NAME', defaultName), ...(version === '' ? {} : { versions: [version] }) };
}

export type AnswerChecks = Record<string, (res: Answer) => boolean>;

/** A server that answers 200 for another model (an ONNX iris for the TF.js script) must fail. */
export function identityChecks(model: ModelExpectation): AnswerChecks {
  if (AGAINST_BASELINE) return {};
  const checks: AnswerChecks = { [`x-model-name is ${model.name}`]: (r) => header(r, 'x-model-name') === model.name };
  const versions = model.versions;
  if (versions !== undefined) {
    checks[`x-model-version is ${versions.join(' or ')}`] = (r) => versions.includes(header(r, 'x-model-version') ?? '');
  }
  return checks;
}

/**
 * What a script sends and how its answers are judged: `checks` run on every answer and must stay
 * cheap (a 1,000-row answer parsed per request would load the generator more than the server);
 * `fault` parses one whole answer in setup().
 */
export interface Target {
  send(): Answer;
  checks: AnswerChecks;
  /** Why this answer is wrong, or undefined. */
  fault(res: Answer): string | undefined;
}

function failedChecks(res: Answer, checks: AnswerChecks): string[] {
  return Object.entries(checks)
    .filter(([, ok]) => !ok(res))
    .map(([name]) => name);
}

/** The default fault: every per-answer check, then the script's own look at the whole body. */
export function faultOf(res: Answer, checks: AnswerChecks, whole: (res: Answer) => string | undefined): string | undefined {
  const failed = failedChecks(res, checks);
  if (failed.length > 0) return `failed ${failed.map((f) => `"${f}"`).join(', ')}`;
  return whole(res);
}

/** Polls until the server is ready, then requires one good answer: a run against the wrong server stops here, saying why. */
export function setupTarget(target: Target): void {
  waitForServer(target.send);
  const res = target.send();
  const fault = target.fault(res);
  if (fault !== undefined) abort(`the first answer from ${BASE_URL} is wrong: ${fault}; it was: ${describeAnswer(res)}`);
}

/** GET /ready until 200 (a baseline has none: its own request until 200), at most READY_TIMEOUT seconds. */
export function waitForServer(probeBaseline: () => Answer): void {
  const probe = AGAINST_BASELINE ? probeBaseline : () => http.get(`${BASE_URL}/ready`, { timeout: '5s', tags: { name: 'ready' } });
  const deadline = Date.now() + READY_TIMEOUT_S * 1000;
  for (;;) {
    const res = probe();
    if (res.status === 200) return;
    if (Date.now() >= deadline) {
      const what = AGAINST_BASELINE ? 'the baseline' : `${BASE_URL}/ready`;
      abort(
        `${what} did not answer 200 within ${READY_TIMEOUT_S} s (last: ${describeAnswer(res)}); ` +
          'start the server first (bench/README.md, "k6"), or raise -e READY_TIMEOUT',
      );
    }
    sleep(0.5);
  }
}

/** One iteration: send, check, count the answer if it passed everything. */
export function iterate(target: Target): void {
  if (check(target.send(), target.checks)) answersOk.add(1);
}

/**
 * The thresholds every load scenario fails on. They are scoped to the scenario so that setup()'s
 * polling (503s, refused connections) neither counts as failed requests nor adds to the rate.
 */
export function loadThresholds(scenario: string, requestRate: string, p99Ms: number): NonNullable<Options['thresholds']> {
  return {
    checks: ['rate==1'],
    answers_ok: ['count>0'],
    [`http_reqs{scenario:${scenario}}`]: [requestRate],
    [`http_req_failed{scenario:${scenario}}`]: ['rate==0'],
    [`http_req_duration{scenario:${scenario}}`]: [`p(99)<${p99Ms}`],
  };
}

export interface LoadDefaults {
  model: ModelExpectation;
  /** The `protocol` tag. */
  protocol: 'mlflow-rest' | 'v2-rest';
  vus: number;
  minRps: number;
  p99Ms: number;
  duration?: string;
}

export const LOAD_SCENARIO = 'load';

/** MLServer's setup: constant VUs for a fixed time, failing the run below a request rate. */
export function loadOptions(d: LoadDefaults): Options {
  const scenario: ConstantVUsScenario = {
    executor: 'constant-vus',
    vus: envInteger('VUS', d.vus),
    duration: env('DURATION', d.duration ?? '30s'),
    tags: { model_name: d.model.name, protocol: d.protocol },
  };
  return {
    scenarios: { [LOAD_SCENARIO]: scenario },
    thresholds: loadThresholds(LOAD_SCENARIO, `rate>=${envNumber('MIN_RPS', d.minRps)}`, envNumber('P99_MS', d.p99Ms)),
    summaryTrendStats: SUMMARY_TREND_STATS,
    setupTimeout: SETUP_TIMEOUT,
  };
}

/** The rows an MLflow answer holds: a list of predictions or records, or the first output's rows. */
export function predictionRows(text: string): number | undefined {
  const p = (parseJson(text) as { predictions?: unknown } | undefined)?.predictions;
  if (Array.isArray(p)) return p.length;
  if (typeof p !== 'object' || p === null) return undefined;
  const first = Object.values(p)[0];
  return Array.isArray(first) ? first.length : undefined;
}

/** POST /invocations with `body`, expecting MLflow predictions for `rows` rows from `model`. */
export function invocationsTarget(body: string, contentType: string, rows: number, model: ModelExpectation): Target {
  const checks: AnswerChecks = {
    'status is 200': (r) => r.status === 200,
    'has predictions': (r) => bodyText(r).startsWith('{"predictions"'),
    ...identityChecks(model),
  };
  return {
    send: () =>
      http.post(`${BASE_URL}/invocations`, body, {
        headers: { 'Content-Type': contentType },
        tags: { name: 'invocations' },
      }),
    checks,
    fault: (res) =>
      faultOf(res, checks, (r) => {
        const got = predictionRows(bodyText(r));
        // A baseline flattens every output into one list, so only modelgate's rows can be counted.
        if (AGAINST_BASELINE) return got !== undefined && got > 0 ? undefined : 'no predictions';
        return got === rows ? undefined : `expected predictions for ${rows} rows, got ${got ?? 'none'}`;
      }),
  };
}

/** mulberry32, as tools/onnx/models.ts: the bench's bodies are reproducible from a seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const IRIS_COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

/** The same rows as bench/lib/models.ts `irisRows(n, seed)`. */
export function irisRows(n: number, seed = 1): number[][] {
  const rand = mulberry32(seed);
  const lo = [4.3, 2.0, 1.0, 0.1];
  const hi = [7.9, 4.4, 6.9, 2.5];
  const rows: number[][] = [];
  for (let r = 0; r < n; r++) rows.push(lo.map((l, i) => Math.round((l + rand() * (hi[i] - l)) * 10) / 10));
  return rows;
}

/** The same rows as bench/lib/models.ts `mlpRows(n, seed)`: 256 values in [-1, 1]. */
export function mlpRows(n: number, seed = 1): number[][] {
  const rand = mulberry32(seed);
  const rows: number[][] = [];
  for (let r = 0; r < n; r++) {
    const row: number[] = [];
    for (let i = 0; i < 256; i++) row.push(Math.round((rand() * 2 - 1) * 1e4) / 1e4);
    rows.push(row);
  }
  return rows;
}

export const inputsJson = (rows: number[][]): string => JSON.stringify({ inputs: rows });

export const irisCsv = (rows: number[][]): string => `${IRIS_COLUMNS.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`;
