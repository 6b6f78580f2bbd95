/**
 * The log's sinks, each behind a queue of its own so one slow sink does not cost the other its
 * records: what turns entries into records and records into lines and events. It runs in the
 * log's thread ({@link LogThread}), or on the event loop where there is no thread to run it.
 */
import { CloudEventsSink } from './cloudevents-sink.js';
import { FileSink } from './file-sink.js';
import { type DropReason, type QueueOptions, type QueueStatus, type Sink, SinkQueue } from './queue.js';
import { type LogEntry, logRecord } from './record.js';

/** Where records go, and what is left out of them: all of it cloneable, for the log's thread. */
export interface SinkOptions {
  /** Field (column or tensor) names never logged. */
  readonly redact?: readonly string[];
  /** A folder for JSON-lines files. */
  readonly dir?: string;
  readonly maxFileBytes?: number;
  readonly rotateSeconds?: number;
  /** A CloudEvents receiver (KServe logger format). */
  readonly url?: string;
  readonly source?: string;
  readonly queue?: Omit<QueueOptions, 'onDrop' | 'onError'>;
}

export interface WriterHooks {
  onDrop(sink: number, reason: DropReason, n: number): void;
  /** A sink's failure, at most once a minute. */
  onError(sink: string, message: string): void;
}

/** The sinks these options ask for, by name, in the writer's order. */
export function sinkNames(options: SinkOptions): string[] {
  return [...(options.dir === undefined ? [] : ['file']), ...(options.url === undefined ? [] : ['http'])];
}

export class LogWriter {
  private readonly queues: SinkQueue[];
  private readonly redact: ReadonlySet<string>;

  constructor(options: SinkOptions, hooks: WriterHooks) {
    this.redact = new Set(options.redact ?? []);
    const sinks: Sink[] = [];
    if (options.dir !== undefined) {
      sinks.push(new FileSink({ dir: options.dir, maxBytes: options.maxFileBytes, maxAgeSeconds: options.rotateSeconds }));
    }
    if (options.url !== undefined) sinks.push(new CloudEventsSink({ url: options.url, source: options.source }));
    let warned = 0;
    this.queues = sinks.map(
      (sink, i) =>
        new SinkQueue(sink, {
          ...options.queue,
          onDrop: (reason, n) => hooks.onDrop(i, reason, n),
          // One warning a minute at most: a dead sink must not flood the log either.
          onError: (err) => {
            if (Date.now() - warned < 60_000) return;
            warned = Date.now();
            hooks.onError(sink.name, err instanceof Error ? err.message : String(err));
          },
        }),
    );
  }

  write(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      let record;
      try {
        record = logRecord(e, this.redact);
      } catch {
        // A row that cannot be read is not logged; the answer has already gone.
        continue;
      }
      for (const q of this.queues) q.push(record);
    }
  }

  status(): QueueStatus[] {
    return this.queues.map((q) => q.status());
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
  }
}
