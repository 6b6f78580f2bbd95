/**
 * Monitoring beside the request path: the inference log and drift. The core asks, before
 * scoring, whether a request is watched (so an unwatched one costs a lookup), and hands over what
 * it decoded and predicted after answering. Nothing here can fail or hold up a prediction: inputs
 * are copied at once, sinks run later behind bounded queues, and every error stays in here.
 */
import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ModelRef } from '../model/ref.js';
import type { ModelInput, ModelOutput } from '../schema/model-io.js';
import type { Logger } from '../util/log.js';
import { DriftMonitor, type DriftOptions, type DriftStatus } from './drift/index.js';
import { InferenceLog, type InferenceLogOptions, type LogStatus } from './log/index.js';
import type { LogEntry } from './log/record.js';
import { capture, inputRows, outputRows } from './log/rows.js';

export interface MonitorOptions {
  readonly log?: InferenceLogOptions;
  readonly drift?: DriftOptions;
}

/** What the core knows of a finished inference. */
export interface Observation {
  readonly watch: Watch;
  readonly ref: ModelRef;
  /** The model's folder (where its reference profile is). */
  readonly dir: string;
  readonly route: string;
  readonly latencyMs: number;
  /** `performance.now()` when it was answered (a clock read costs more than a copy of one). */
  readonly endedAt: number;
  readonly status: number;
  readonly error?: string;
  /** The decoded input, copied by {@link Monitor.capture} when it was decoded. */
  readonly input?: ModelInput;
  readonly output?: ModelOutput;
}

/** A watched request: what to tell the monitor once it is answered. */
export interface Watch {
  /** The caller's id, or a new one for a logged request (drift needs none, and adds no header). */
  readonly requestId: string | undefined;
  readonly logged: boolean;
  readonly drift: boolean;
}

export interface MonitorStatus {
  readonly log?: LogStatus;
  readonly drift?: readonly DriftStatus[];
}

/**
 * Milliseconds observations wait to be handled together. A turn of the event loop often answers
 * one request, and a callback, or a message to the log's thread (~10 µs whatever it holds), per
 * turn would cost more than the rest of the work.
 */
const FLUSH_MS = 10;

export class Monitor {
  private readonly log: InferenceLog | undefined;
  private readonly drift: DriftMonitor | undefined;
  private pending: Observation[] = [];

  constructor(options: MonitorOptions, registry: Registry | undefined, logger?: Logger) {
    const registers = registry === undefined ? [] : [registry];
    if (options.log !== undefined) {
      const dropped = new Counter({
        name: 'modelgate_log_records_dropped_total',
        help: 'Inference log records dropped: queue full, sink failing after retries, or shutdown',
        labelNames: ['sink', 'reason'] as const,
        registers,
        // The log's thread counts its own drops: brought over when scraped.
        collect: () => this.log?.sync(),
      });
      const log = new InferenceLog(options.log, dropped, logger);
      if (log.enabled) this.log = log;
    }
    if (options.drift !== undefined) {
      const gauge = new Gauge({
        name: 'modelgate_drift',
        help: 'Distance of the live window from the reference profile, per feature (psi, js = Jensen-Shannon distance, ks)',
        labelNames: ['model', 'version', 'feature', 'stat'] as const,
        // With --workers each process has its own window: the worst one, not their sum.
        aggregator: 'max',
        registers,
      });
      this.drift = new DriftMonitor(options.drift, gauge, logger);
    }
  }

  /** Before scoring: whether this request is logged or feeds drift; undefined for neither. */
  watch(ref: ModelRef, dir: string, route: string, requestId: string | undefined): Watch | undefined {
    const logged = this.log !== undefined && this.log.sample(ref.name);
    const drift = this.drift !== undefined && this.drift.wants(ref, dir);
    if (!logged && !drift) return undefined;
    return { requestId: logged ? (requestId ?? randomUUID()) : requestId, logged, drift };
  }

  /**
   * A watched request's input, copied as soon as it is decoded: the model may take its buffers
   * (a session thread is handed them, not a copy).
   */
  capture(input: ModelInput): ModelInput | undefined {
    try {
      return capture(input);
    } catch {
      return undefined;
    }
  }

  /**
   * Observes a request once its answer is on its way: the work waits up to {@link FLUSH_MS}, one
   * callback (and one message to the log's thread) for all the requests answered meanwhile.
   */
  later(o: Observation): void {
    if (this.pending.push(o) === 1) setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  private flush(): void {
    const pending = this.pending;
    this.pending = [];
    const logged: LogEntry[] = [];
    for (const o of pending) {
      const { watch } = o;
      if (watch.logged) {
        logged.push({
          id: watch.requestId ?? randomUUID(),
          time: performance.timeOrigin + o.endedAt,
          model: o.ref.name,
          version: o.ref.version,
          route: o.route,
          latencyMs: o.latencyMs,
          status: o.status,
          error: o.error,
          input: o.input,
          output: o.output,
        });
      }
      if (watch.drift && o.status === 200) this.observeDrift(o);
    }
    if (logged.length > 0) this.log?.write(logged);
  }

  private observeDrift(o: Observation): void {
    if (this.drift === undefined) return;
    try {
      const inputs = o.input === undefined ? [] : inputRows(o.input, this.log?.redact);
      const predictions = o.output === undefined ? [] : outputRows(o.output, inputs.length, this.log?.redact);
      this.drift.observe(o.ref, o.dir, inputs, predictions);
    } catch {
      // A row that cannot be read is not profiled; the answer has already gone.
    }
  }

  /** The drift windows, for the console; undefined when drift is off. */
  get driftSource(): DriftMonitor | undefined {
    return this.drift;
  }

  status(): MonitorStatus {
    return {
      ...(this.log === undefined ? {} : { log: this.log.status() }),
      ...(this.drift === undefined ? {} : { drift: this.drift.status() }),
    };
  }

  async close(): Promise<void> {
    this.flush();
    await this.log?.close();
  }
}
