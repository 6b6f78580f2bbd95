/**
 * The inference log: which requests are logged (a percentage, per model if wanted), what of them
 * (rows without the redacted fields), and where (files, an HTTP receiver, both), each sink behind
 * a queue of its own so one slow sink does not cost the other its records.
 */
import type { Counter } from 'prom-client';
import type { Logger } from '../../util/log.js';
import { CloudEventsSink } from './cloudevents-sink.js';
import { FileSink } from './file-sink.js';
import { type QueueOptions, type QueueStatus, type Sink, SinkQueue } from './queue.js';
import type { LoggedInference } from './record.js';

export interface InferenceLogOptions {
  /** Percent of requests logged. @default 0 */
  readonly percent?: number;
  /** Percent per model name, over `percent`. */
  readonly perModel?: Readonly<Record<string, number>>;
  /** Field (column or tensor) names never logged. */
  readonly redact?: readonly string[];
  /** A folder for JSON-lines files. */
  readonly dir?: string;
  readonly maxFileBytes?: number;
  readonly rotateSeconds?: number;
  /** A CloudEvents receiver (KServe logger format). */
  readonly url?: string;
  readonly source?: string;
  readonly queue?: QueueOptions;
}

export interface LogStatus {
  readonly sinks: readonly QueueStatus[];
  readonly dropped: number;
}

export class InferenceLog {
  readonly redact: ReadonlySet<string>;
  private readonly queues: SinkQueue[];
  private readonly percent: number;
  private readonly perModel: Readonly<Record<string, number>>;

  constructor(
    options: InferenceLogOptions,
    dropped: Counter<'sink' | 'reason'> | undefined,
    private readonly logger?: Logger,
  ) {
    this.percent = options.percent ?? 0;
    this.perModel = options.perModel ?? {};
    this.redact = new Set(options.redact ?? []);
    const sinks: Sink[] = [];
    if (options.dir !== undefined) {
      sinks.push(new FileSink({ dir: options.dir, maxBytes: options.maxFileBytes, maxAgeSeconds: options.rotateSeconds }));
    }
    if (options.url !== undefined) sinks.push(new CloudEventsSink({ url: options.url, source: options.source }));
    let warned = 0;
    this.queues = sinks.map(
      (sink) =>
        new SinkQueue(sink, {
          ...options.queue,
          onDrop: (reason, n) => dropped?.inc({ sink: sink.name, reason }, n),
          // One warning a minute at most: a dead sink must not flood the log either.
          onError: (err) => {
            if (Date.now() - warned < 60_000) return;
            warned = Date.now();
            this.logger?.warn({ sink: sink.name, err: err instanceof Error ? err.message : String(err) }, 'inference log sink failed');
          },
        }),
    );
  }

  /** Whether the log has anywhere to write. */
  get enabled(): boolean {
    return this.queues.length > 0 && (this.percent > 0 || Object.values(this.perModel).some((p) => p > 0));
  }

  /** Decides, before scoring, whether a request of this model is logged. */
  sample(model: string): boolean {
    if (this.queues.length === 0) return false;
    const p = this.perModel[model] ?? this.percent;
    return p >= 100 || (p > 0 && Math.random() * 100 < p);
  }

  push(record: LoggedInference): void {
    for (const q of this.queues) q.push(record);
  }

  status(): LogStatus {
    const sinks = this.queues.map((q) => q.status());
    return { sinks, dropped: sinks.reduce((n, s) => n + s.dropped, 0) };
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
  }
}
