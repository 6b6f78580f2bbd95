/**
 * Monitoring beside the request path: the inference log and drift. The core asks, before
 * scoring, whether a request is watched (so an unwatched one costs a lookup), and hands over what
 * it decoded and predicted after answering. Nothing here can fail or hold up a prediction: rows
 * are copied at once, sinks run later behind bounded queues, and every error stays in here.
 */
import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ModelRef } from '../model/ref.js';
import type { ModelInput, ModelOutput } from '../schema/model-io.js';
import type { Logger } from '../util/log.js';
import { DriftMonitor, type DriftOptions, type DriftStatus } from './drift/index.js';
import { InferenceLog, type InferenceLogOptions, type LogStatus } from './log/index.js';
import { type Row, inputRows, outputRows } from './log/rows.js';

export interface MonitorOptions {
  readonly log?: InferenceLogOptions;
  readonly drift?: DriftOptions;
}

/** What the core knows of a finished inference. */
export interface Observation {
  readonly ref: ModelRef;
  /** The model's folder (where its reference profile is). */
  readonly dir: string;
  readonly route: string;
  readonly requestId: string;
  readonly latencyMs: number;
  readonly status: number;
  readonly error?: string;
  /** The decoded input's rows, copied by {@link Monitor.rows} when it was decoded. */
  readonly inputs?: readonly Row[];
  readonly output?: ModelOutput;
}

/** A watched request: what to tell the monitor once it is answered. */
export interface Watch {
  readonly requestId: string;
  readonly logged: boolean;
  readonly drift: boolean;
}

export interface MonitorStatus {
  readonly log?: LogStatus;
  readonly drift?: readonly DriftStatus[];
}

export class Monitor {
  private readonly log: InferenceLog | undefined;
  private readonly drift: DriftMonitor | undefined;

  constructor(options: MonitorOptions, registry: Registry | undefined, logger?: Logger) {
    const registers = registry === undefined ? [] : [registry];
    if (options.log !== undefined) {
      const dropped = new Counter({
        name: 'modelgate_log_records_dropped_total',
        help: 'Inference log records dropped: queue full, sink failing after retries, or shutdown',
        labelNames: ['sink', 'reason'] as const,
        registers,
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
    return { requestId: requestId ?? randomUUID(), logged, drift };
  }

  /**
   * A watched request's input rows, copied as soon as it is decoded: the model may take its
   * buffers (a session thread is handed them, not a copy).
   */
  rows(input: ModelInput): readonly Row[] | undefined {
    try {
      return inputRows(input, this.log?.redact);
    } catch {
      return undefined;
    }
  }

  observe(watch: Watch, o: Observation): void {
    try {
      const inputs = o.inputs ?? [];
      const predictions = o.output === undefined ? [] : outputRows(o.output, inputs.length, this.log?.redact);
      if (watch.logged) {
        this.log?.push({
          id: watch.requestId,
          time: new Date().toISOString(),
          model: o.ref.name,
          version: o.ref.version,
          route: o.route,
          latencyMs: Math.round(o.latencyMs * 1000) / 1000,
          status: o.status,
          ...(o.error === undefined ? {} : { error: o.error }),
          inputs,
          predictions,
        });
      }
      if (watch.drift && o.status === 200) this.drift?.observe(o.ref, o.dir, inputs, predictions);
    } catch {
      // A row that cannot be copied is not logged; the answer has already gone.
    }
  }

  status(): MonitorStatus {
    return {
      ...(this.log === undefined ? {} : { log: this.log.status() }),
      ...(this.drift === undefined ? {} : { drift: this.drift.status() }),
    };
  }

  async close(): Promise<void> {
    await this.log?.close();
  }
}
