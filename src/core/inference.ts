/**
 * One inference, whatever the protocol: the in-flight bound and the model checked before the body
 * is read (an overloaded or unready server refuses at once), then the lease, the deadline, the
 * per-model metrics and the shadow mirror. Routes decode nothing and count nothing themselves.
 */
import { GatewayError, ModelNotReadyError, isGatewayError } from '../errors.js';
import { LIMIT_DEFAULTS } from '../limits.js';
import type { ModelRef } from '../model/ref.js';
import type { Monitor, Observation, Watch } from '../monitor/index.js';
import type { RequestSpan } from '../monitor/trace/span.js';
import type { ModelInput, ModelOutput } from '../schema/model-io.js';
import type { Logger } from '../util/log.js';
import { Deadlines } from './deadlines.js';
import { type GatewayMetrics, type ModelCells, modelCells } from './metrics.js';
import type { Acquire, HeaderLookup, Lease, ModelHost } from './model-host.js';
import type { ScoreOptions, ScoreWatch } from './scoring.js';
import type { ServableModel } from './servable.js';

/** Scores one request body with a model, in one protocol's terms. */
export type Scorer = (servable: ServableModel, options: ScoreOptions) => Promise<string>;

export type { Acquire } from './model-host.js';

export interface InferenceLimits {
  /** Inferences in progress at once before new requests get 503; 0 = no bound. */
  readonly maxInFlight?: number;
  /** Milliseconds before a request is answered 504; 0 = none. */
  readonly requestTimeoutMs?: number;
  readonly maxRows?: number;
  readonly maxJsonDepth?: number;
  readonly maxResponseBytes?: number;
}

export interface InferenceDeps {
  readonly host: ModelHost;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly limits?: InferenceLimits;
  /** The inference log and drift; left out, nothing is watched. */
  readonly monitor?: Monitor;
}

/** A scored request: the answer's text and which version (and route) gave it. */
export interface Scored {
  readonly body: string;
  readonly ref: ModelRef;
  /** `primary`, `canary`, or a pinned route's name. */
  readonly route: string;
  /** The id the request was logged under, when it was (the caller's x-request-id, else a new one). */
  readonly requestId?: string;
}

export interface Inference {
  /**
   * Before the body is read: 503 at the in-flight bound or while no model is ready. Returns what
   * to call once `run` has its lease: with several models the admitted one stays leased while the
   * body arrives, so the budget cannot unload it between the two (a single model's is given back at once).
   */
  admit(acquire: Acquire, header: HeaderLookup): (() => void) | Promise<() => void>;
  /** With the body read: leases a model, scores within the deadline, mirrors to the shadow. */
  run(acquire: Acquire, header: HeaderLookup, scorer: Scorer, requestId?: string, trace?: RequestSpan): Promise<Scored>;
}

export function createInference(deps: InferenceDeps): Inference {
  const { host, metrics, logger, monitor } = deps;
  const limits = deps.limits ?? {};
  const maxInFlight = limits.maxInFlight ?? LIMIT_DEFAULTS.maxInFlight;
  const timeoutMs = limits.requestTimeoutMs ?? LIMIT_DEFAULTS.requestTimeoutSeconds * 1000;
  const scoreLimits = {
    maxRows: limits.maxRows ?? LIMIT_DEFAULTS.maxRows,
    maxJsonDepth: limits.maxJsonDepth ?? LIMIT_DEFAULTS.maxJsonDepth,
    maxResponseBytes: limits.maxResponseBytes ?? LIMIT_DEFAULTS.maxResponseBytes,
  };
  const deadlines = new Deadlines();
  const cells = new WeakMap<ServableModel, ModelCells>();
  const cellsOf = (s: ServableModel): ModelCells => {
    let x = cells.get(s);
    if (x === undefined) cells.set(s, (x = modelCells(metrics, s.ref)));
    return x;
  };
  let active = 0;

  /** 503 when `maxInFlight` inferences are running; the connection closes so an unread body is not parsed as a request. */
  const checkCapacity = (): void => {
    if (maxInFlight > 0 && active >= maxInFlight) {
      throw new GatewayError(
        'TEMPORARILY_UNAVAILABLE',
        `The server is at its limit of ${maxInFlight} requests in progress; retry shortly.`,
        { headers: { 'retry-after': '1', connection: 'close' } },
      );
    }
  };

  const present = (l: Lease | undefined): Lease => {
    if (l === undefined) throw new ModelNotReadyError();
    return l;
  };

  /** A model loaded on demand is waited for within the request deadline; a lease that comes too late is given back. */
  const waitFor = (pending: Promise<Lease | undefined>): Promise<Lease> => {
    if (timeoutMs <= 0) return pending.then(present);
    let late = false;
    void pending.then(
      (l) => late && l?.release(),
      () => undefined,
    );
    return deadlines.race(pending, timeoutMs).then(present, (err: unknown) => {
      late = true;
      throw err;
    });
  };

  const lease = (acquire: Acquire, header: HeaderLookup): Lease | Promise<Lease> => {
    checkCapacity();
    const l = acquire(header);
    return l instanceof Promise ? waitFor(l) : present(l);
  };

  /** Scores with a deadline; the lease is held until the model is really done, even after a 504. */
  const scoreWithin = (l: Lease, scorer: Scorer, m: ModelCells, seen?: Seen, trace?: RequestSpan): Promise<string> => {
    const work = scorer(l.servable, {
      logger,
      onPredict: (s) => m.inferenceDuration.observe(s),
      ...(seen === undefined ? {} : { watch: seen }),
      // Set even when undefined: no object per request for a feature that is off.
      trace,
      ...scoreLimits,
      ...(timeoutMs > 0 ? { deadline: performance.now() + timeoutMs } : {}),
    }).finally(() => l.release());
    if (timeoutMs <= 0) return work;
    return deadlines.race(work, timeoutMs);
  };

  /** Mirrors a request to the shadow model after the real answer; the outcome only reaches metrics (and the monitor). */
  const mirror = (l: Lease, scorer: Scorer, requestId: string | undefined): void => {
    const { ref } = l.servable;
    const labels = { model: ref.name, version: ref.version };
    const started = performance.now();
    const seen = watching(l, 'shadow', requestId);
    scorer(l.servable, { logger, ...scoreLimits, ...(seen === undefined ? {} : { watch: seen }) })
      .then(
        () => {
          metrics.shadow.inc({ ...labels, outcome: 'success' });
          seen?.done(l, 200, started);
        },
        (err: unknown) => {
          const status = isGatewayError(err) ? err.status : 500;
          seen?.done(l, status, started, err);
          metrics.shadow.inc({ ...labels, outcome: status >= 500 ? 'server_error' : 'client_error' });
          if (status >= 500) logger.warn({ err: isGatewayError(err) ? (err.cause ?? err) : err, ...labels }, 'shadow model failed');
        },
      )
      .finally(() => {
        metrics.shadowDuration.observe(labels, (performance.now() - started) / 1000);
        l.release();
      });
  };

  /** A watched request's capture of what it decoded and predicted; undefined when it is not watched. */
  const watching = (l: Lease, route: string, requestId: string | undefined): Seen | undefined => {
    const watch = monitor?.watch(l.servable.ref, l.servable.dir, route, requestId);
    return watch === undefined || monitor === undefined ? undefined : new Seen(monitor, watch, route);
  };

  return {
    admit(acquire, header) {
      const l = lease(acquire, header);
      const keep = (x: Lease) => {
        if (host.catalog !== undefined) {
          let held = true;
          return () => {
            if (held) x.release();
            held = false;
          };
        }
        x.release();
        return () => undefined;
      };
      return l instanceof Promise ? l.then(keep) : keep(l);
    },
    async run(acquire, header, scorer, requestId, trace) {
      const l = await lease(acquire, header);
      const { servable } = l;
      if (trace !== undefined) traceModel(trace, servable.ref, l.route);
      const m = cellsOf(servable);
      const started = performance.now();
      const seen = watching(l, l.route, requestId);
      active++;
      try {
        const body = await scoreWithin(l, scorer, m, seen, trace);
        m.success.inc();
        seen?.done(l, 200, started);
        const shadow = l.shadow !== undefined ? l.shadow(header) : host.shadow?.(header);
        if (shadow !== undefined) mirror(shadow, scorer, seen?.watch.requestId ?? requestId);
        const id = seen?.watch.requestId;
        return { body, ref: servable.ref, route: l.route, ...(id === undefined ? {} : { requestId: id }) };
      } catch (err) {
        const status = isGatewayError(err) ? err.status : 500;
        (status >= 500 ? m.serverError : m.clientError).inc();
        seen?.done(l, status, started, err);
        throw err;
      } finally {
        active--;
        m.requestDuration.observe((performance.now() - started) / 1000);
      }
    },
  };
}

function traceModel(trace: RequestSpan, ref: ModelRef, route: string): void {
  trace.attr('modelgate.model', ref.name);
  trace.attr('modelgate.version', ref.version);
  trace.attr('modelgate.route', route);
}

/**
 * What a watched request decoded and predicted, handed to the monitor after the answer has gone:
 * itself the observation, so a logged request allocates one object for it.
 */
class Seen implements ScoreWatch, Observation {
  input: ModelInput | undefined;
  output: ModelOutput | undefined;
  ref!: ModelRef;
  dir = '';
  latencyMs = 0;
  endedAt = 0;
  status = 0;
  error: string | undefined;

  constructor(
    private readonly monitor: Monitor,
    readonly watch: Watch,
    readonly route: string,
  ) {}

  decoded(input: ModelInput): void {
    this.input = this.monitor.capture(input);
  }

  predicted(output: ModelOutput): void {
    this.output = output;
  }

  done(l: Lease, status: number, started: number, err?: unknown): void {
    this.ref = l.servable.ref;
    this.dir = l.servable.dir;
    this.endedAt = performance.now();
    this.latencyMs = this.endedAt - started;
    this.status = status;
    if (err !== undefined) this.error = isGatewayError(err) ? err.code : 'INTERNAL_ERROR';
    this.monitor.later(this);
  }
}
