/**
 * The inference log: which requests are logged (a percentage, per model if wanted), what of them
 * (rows without the redacted fields), and where (files, an HTTP receiver, both). The sampling is
 * decided here, on the request path; the writing runs in the log's own thread (thread.ts), or on
 * the event loop where that thread's compiled script is not there (the sources under a test runner).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Counter } from 'prom-client';
import type { Logger } from '../../util/log.js';
import type { DropReason, QueueStatus } from './queue.js';
import type { LogEntry } from './record.js';
import { DROP_REASONS } from './thread-protocol.js';
import { LOG_THREAD_URL } from './thread-url.js';
import { LogThread } from './thread.js';
import { LogWriter, type SinkOptions, type WriterHooks, sinkNames } from './writer.js';

export interface InferenceLogOptions extends SinkOptions {
  /** Percent of requests logged. @default 0 */
  readonly percent?: number;
  /** Percent per model name, over `percent`. */
  readonly perModel?: Readonly<Record<string, number>>;
  /** Whether the writing runs in a thread of its own. @default true where its script is built */
  readonly thread?: boolean;
}

export interface LogStatus {
  readonly sinks: readonly QueueStatus[];
  readonly dropped: number;
  /** Whether the log writes from a thread of its own. */
  readonly thread: boolean;
}

export class InferenceLog {
  readonly redact: ReadonlySet<string>;
  private readonly names: string[];
  private readonly percent: number;
  private readonly perModel: Readonly<Record<string, number>>;
  /** Per sink and reason, every record dropped. */
  private readonly drops: number[][];
  private readonly writer: LogWriter | LogThread | undefined;

  constructor(
    options: InferenceLogOptions,
    private readonly dropped: Counter<'sink' | 'reason'> | undefined,
    logger?: Logger,
  ) {
    this.percent = options.percent ?? 0;
    this.perModel = options.perModel ?? {};
    this.redact = new Set(options.redact ?? []);
    this.names = sinkNames(options);
    this.drops = this.names.map(() => DROP_REASONS.map(() => 0));
    if (this.names.length === 0) return;
    const hooks: WriterHooks = {
      onDrop: (sink, reason, n) => this.countDrop(sink, reason, n),
      onError: (sink, err) => logger?.warn({ sink, err }, 'inference log sink failed'),
    };
    const sinks: SinkOptions = {
      redact: options.redact,
      dir: options.dir,
      maxFileBytes: options.maxFileBytes,
      rotateSeconds: options.rotateSeconds,
      url: options.url,
      source: options.source,
      queue: options.queue,
    };
    const thread = options.thread ?? existsSync(fileURLToPath(LOG_THREAD_URL));
    this.writer = thread ? new LogThread(LOG_THREAD_URL, sinks, this.names.length, hooks, logger) : new LogWriter(sinks, hooks);
  }

  /** Whether the log has anywhere to write. */
  get enabled(): boolean {
    return this.writer !== undefined && (this.percent > 0 || Object.values(this.perModel).some((p) => p > 0));
  }

  /** Decides, before scoring, whether a request of this model is logged. */
  sample(model: string): boolean {
    if (this.writer === undefined) return false;
    const p = this.perModel[model] ?? this.percent;
    return p >= 100 || (p > 0 && Math.random() * 100 < p);
  }

  /** Never waits and never throws: what cannot be queued is dropped and counted. */
  write(entries: readonly LogEntry[]): void {
    this.writer?.write(entries);
  }

  /** Brings the drop counter up to date with the log's thread (before a scrape). */
  sync(): void {
    if (this.writer instanceof LogThread) this.writer.sync();
  }

  status(): LogStatus {
    const states = this.writer?.status() ?? [];
    const sinks = this.names.map((sink, i) => ({
      sink,
      queued: states[i]?.queued ?? 0,
      written: states[i]?.written ?? 0,
      dropped: this.drops[i].reduce((a, b) => a + b, 0),
      ...(states[i]?.lastError === undefined ? {} : { lastError: states[i].lastError }),
    }));
    return { sinks, dropped: sinks.reduce((n, s) => n + s.dropped, 0), thread: this.writer instanceof LogThread };
  }

  async close(): Promise<void> {
    await this.writer?.close();
  }

  private countDrop(sink: number, reason: DropReason, n: number): void {
    this.drops[sink][DROP_REASONS.indexOf(reason)] += n;
    this.dropped?.inc({ sink: this.names[sink], reason }, n);
  }
}
