/**
 * Between the request path and a sink: a bounded queue that never waits. A full queue drops the
 * new record; a failing sink is retried with backoff, and a batch that still fails is dropped.
 * Every drop is counted, so a slow or dead sink costs log records, never predictions.
 */
import type { LoggedInference } from './record.js';

/**
 * Where records go. A record is encoded when it is queued, into what the sink writes (a file
 * sink: the bytes of its lines), so what waits in the queue is small and off the request's heap.
 */
export interface Sink<T = unknown> {
  readonly name: string;
  encode(record: LoggedInference): T;
  write(batch: readonly T[]): Promise<void>;
  close(): Promise<void>;
}

export interface QueueOptions {
  /** Records held at once. @default 10000 */
  capacity?: number;
  /** Records handed to the sink in one write. @default 256 */
  batchSize?: number;
  /** Attempts per batch before it is dropped. @default 4 */
  attempts?: number;
  /** The first retry's wait; each later one doubles, up to `maxBackoffMs`. @default 100 */
  backoffMs?: number;
  /** @default 5000 */
  maxBackoffMs?: number;
  /**
   * Milliseconds the first record waits for others before a write: one write per many records
   * (a write costs a system call and a thread-pool round trip, ~100 µs of CPU). @default 50
   */
  lingerMs?: number;
  /** Told about every record dropped, with why (`queue_full`, `sink_error`, `shutdown`). */
  onDrop?: (reason: DropReason, n: number) => void;
  onError?: (err: unknown) => void;
}

export type DropReason = 'queue_full' | 'sink_error' | 'shutdown';

export interface QueueStatus {
  readonly sink: string;
  readonly queued: number;
  readonly written: number;
  readonly dropped: number;
  readonly lastError?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export class SinkQueue<T = unknown> {
  private readonly items: T[] = [];
  private readonly capacity: number;
  private readonly batchSize: number;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly lingerMs: number;
  private running: Promise<void> | undefined;
  private closed = false;
  private written = 0;
  private dropped = 0;
  private lastError: string | undefined;

  constructor(
    private readonly sink: Sink<T>,
    private readonly options: QueueOptions = {},
  ) {
    this.capacity = options.capacity ?? 10000;
    this.batchSize = options.batchSize ?? 256;
    this.attempts = options.attempts ?? 4;
    this.backoffMs = options.backoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.lingerMs = options.lingerMs ?? 50;
  }

  /** Never waits and never throws. */
  push(record: LoggedInference): void {
    if (this.closed || this.items.length >= this.capacity) return this.drop(this.closed ? 'shutdown' : 'queue_full', 1);
    let item: T;
    try {
      item = this.sink.encode(record);
    } catch (err) {
      this.options.onError?.(err);
      return this.drop('sink_error', 1);
    }
    this.items.push(item);
    // The sink runs after the current request's answer is on its way, with what came meanwhile.
    this.running ??= sleep(this.lingerMs).then(() => this.drain());
  }

  status(): QueueStatus {
    return {
      sink: this.sink.name,
      queued: this.items.length,
      written: this.written,
      dropped: this.dropped,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  /** Writes what is queued, for at most `timeoutMs`; what is left is dropped. */
  async close(timeoutMs = 2000): Promise<void> {
    this.closed = true;
    await Promise.race([this.running ?? Promise.resolve(), sleep(timeoutMs)]);
    if (this.items.length > 0) this.drop('shutdown', this.items.splice(0).length);
    await this.sink.close().catch((err: unknown) => this.options.onError?.(err));
  }

  private drop(reason: DropReason, n: number): void {
    this.dropped += n;
    this.options.onDrop?.(reason, n);
  }

  private async drain(): Promise<void> {
    try {
      while (this.items.length > 0) {
        const batch = this.items.splice(0, this.batchSize);
        if (await this.writeWithRetries(batch)) this.written += batch.length;
        else this.drop('sink_error', batch.length);
      }
    } finally {
      this.running = undefined;
    }
  }

  private async writeWithRetries(batch: readonly T[]): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sink.write(batch);
        this.lastError = undefined;
        return true;
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        this.options.onError?.(err);
        if (attempt >= this.attempts || this.closed) return false;
        await sleep(Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempt - 1)));
      }
    }
  }
}
