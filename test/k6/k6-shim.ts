/**
 * The part of k6's JavaScript API the bench/k6 scripts use, for running them in a worker thread
 * without k6 (k6 cannot be installed here). Each worker is one VU, as in k6: it runs the script's
 * init code, then setup() or a scenario's function. HTTP is synchronous, as in k6: the worker posts
 * the request to the main thread and sleeps on a shared flag until the answer is on its port.
 * Every metric sample goes to the main thread, which evaluates the thresholds (k6-runner.ts).
 */
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';

export type MetricKind = 'counter' | 'trend' | 'rate' | 'gauge';

export interface HttpRequest {
  method: string;
  url: string;
  body: string | null;
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface HttpReply {
  status: number;
  body: string;
  headers: Record<string, string>;
  error: string;
  durationMs: number;
}

export type Phase =
  { kind: 'init' } | { kind: 'setup' } | { kind: 'scenario'; name: string; exec: string; untilMs: number; iterations?: number };

export interface VuData {
  env: Record<string, string>;
  phase: Phase;
  /** Tags every sample of this VU carries (scenario, the scenario's tags, group). */
  tags: Record<string, string>;
  flag: SharedArrayBuffer;
  replies: MessagePort;
}

export type ToMain =
  | { type: 'declare'; metric: string; kind: MetricKind }
  | { type: 'sample'; metric: string; kind: MetricKind; value: number; tags: Record<string, string> }
  | { type: 'http'; request: HttpRequest }
  | { type: 'abort'; message: string }
  | { type: 'exception'; message: string }
  | { type: 'log'; message: string }
  | { type: 'options'; options: unknown; exports: string[] }
  | { type: 'done' };

const vu = workerData as VuData;
const port = parentPort;
if (port === null) throw new Error('k6-shim runs in a worker thread');
const send = (m: ToMain) => port.postMessage(m);
(globalThis as { __ENV?: Record<string, string> }).__ENV = vu.env;

function emit(metric: string, kind: MetricKind, value: number, tags: Record<string, string> = {}): void {
  send({ type: 'sample', metric, kind, value, tags: { ...vu.tags, ...tags } });
}

function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// --- k6 ---

export function sleep(seconds: number): void {
  blockFor(seconds * 1000);
}

type Checker = ((v: unknown) => unknown) | boolean;

/** As k6: one `checks` sample per check, tagged with its name; a check that throws ends the iteration. */
export function check(value: unknown, sets: Record<string, Checker>, tags: Record<string, string> = {}): boolean {
  let all = true;
  for (const [name, c] of Object.entries(sets)) {
    const ok = Boolean(typeof c === 'function' ? c(value) : c);
    emit('checks', 'rate', ok ? 1 : 0, { ...tags, check: name });
    all &&= ok;
  }
  return all;
}

export function group<T>(_name: string, fn: () => T): T {
  return fn();
}

export function fail(message = ''): never {
  throw new Error(message);
}

// --- k6/http ---

interface Params {
  headers?: Record<string, string>;
  tags?: Record<string, string>;
  timeout?: string | number;
  responseCallback?: unknown;
}

const canonical = (name: string) =>
  name
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1).toLowerCase())
    .join('-');

function timeoutMs(t: string | number | undefined): number {
  if (t === undefined) return 60_000;
  if (typeof t === 'number') return t;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(t);
  if (m === null) throw new Error(`k6-shim: unsupported timeout ${t}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
}

function roundTrip(request: HttpRequest): HttpReply {
  const flag = new Int32Array(vu.flag);
  Atomics.store(flag, 0, 0);
  send({ type: 'http', request });
  if (Atomics.wait(flag, 0, 0, request.timeoutMs + 5000) === 'timed-out') throw new Error(`k6-shim: no reply for ${request.url}`);
  const reply = receiveMessageOnPort(vu.replies);
  if (reply === undefined) throw new Error('k6-shim: woken without a reply');
  return reply.message as HttpReply;
}

function request(method: string, url: string, body: string | null = null, params: Params = {}) {
  if (params.responseCallback !== undefined) throw new Error('k6-shim: responseCallback is not implemented');
  const reply = roundTrip({ method, url, body, headers: params.headers ?? {}, timeoutMs: timeoutMs(params.timeout) });
  // k6's default expected statuses: 200-399.
  const expected = reply.status >= 200 && reply.status < 400;
  const tags = {
    method,
    url,
    name: url,
    status: String(reply.status),
    expected_response: String(expected),
    ...params.tags,
  };
  emit('http_reqs', 'counter', 1, tags);
  emit('http_req_duration', 'trend', reply.durationMs, tags);
  emit('http_req_failed', 'rate', expected ? 0 : 1, tags);
  const headers = Object.fromEntries(Object.entries(reply.headers).map(([k, v]) => [canonical(k), v]));
  return {
    status: reply.status,
    body: reply.status === 0 ? null : reply.body,
    headers,
    error: reply.error,
    timings: { duration: reply.durationMs },
    json: () => JSON.parse(reply.body) as unknown,
  };
}

export const http = {
  request,
  get: (url: string, params?: Params) => request('GET', url, null, params),
  post: (url: string, body?: string | null, params?: Params) => request('POST', url, body ?? null, params),
  expectedStatuses: () => {
    throw new Error('k6-shim: expectedStatuses is not implemented');
  },
};

// --- k6/metrics ---

class Metric {
  constructor(
    readonly name: string,
    private readonly kind: MetricKind,
  ) {
    send({ type: 'declare', metric: name, kind });
  }

  add(value: number | boolean, tags?: Record<string, string>): void {
    emit(this.name, this.kind, Number(value), tags);
  }
}

export class Counter extends Metric {
  constructor(name: string) {
    super(name, 'counter');
  }
}

export class Trend extends Metric {
  constructor(name: string) {
    super(name, 'trend');
  }
}

export class Rate extends Metric {
  constructor(name: string) {
    super(name, 'rate');
  }
}

export class Gauge extends Metric {
  constructor(name: string) {
    super(name, 'gauge');
  }
}

// --- k6/execution ---

/** Thrown by exec.test.abort(); scripts cannot tell it from k6's own interrupt. */
class AbortRun extends Error {}

export const exec = {
  test: {
    abort(message = 'test aborted'): never {
      send({ type: 'abort', message });
      throw new AbortRun(message);
    },
  },
};

// --- the VU's life ---

type ScriptModule = Record<string, unknown>;

function fn(script: ScriptModule, name: string): (data?: unknown) => unknown {
  const f = script[name];
  if (typeof f !== 'function') throw new Error(`the script exports no function ${name}`);
  return f as (data?: unknown) => unknown;
}

/** Runs a scenario's iterations; as in k6, an exception ends its iteration, not the run. */
function runScenario(script: ScriptModule, phase: Extract<Phase, { kind: 'scenario' }>): void {
  const f = fn(script, phase.exec);
  for (let i = 0; (phase.iterations === undefined || i < phase.iterations) && Date.now() < phase.untilMs; i++) {
    try {
      f();
    } catch (err) {
      if (err instanceof AbortRun) throw err;
      send({ type: 'log', message: `iteration ${i} of ${phase.name} threw: ${String(err)}` });
    }
  }
}

/** The worker's entry: the bundle calls this with the script's module after its init code ran. */
export function drive(script: ScriptModule): void {
  try {
    const phase = vu.phase;
    if (phase.kind === 'init') send({ type: 'options', options: script.options, exports: Object.keys(script) });
    else if (phase.kind === 'setup') {
      const data = typeof script.setup === 'function' ? fn(script, 'setup')() : undefined;
      if (data !== undefined) throw new Error('k6-shim: setup() data is not passed on to the VUs');
    } else runScenario(script, phase);
  } catch (err) {
    if (!(err instanceof AbortRun)) send({ type: 'exception', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  send({ type: 'done' });
}
