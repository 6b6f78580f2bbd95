/**
 * The inference log's work in a thread of its own. Writing a logged request's rows as text and
 * its lines as bytes cost the event loop about a fifth of a batch-1 request; here the event loop
 * only flattens the entries it already has (wire.ts) and posts them in batches. The log's
 * thread writes them behind the same bounded queues, and its counts come back through shared
 * memory. What is in flight is bounded too: past the queue's capacity, entries are dropped here.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../util/log.js';
import type { DropReason, QueueStatus } from './queue.js';
import type { LogEntry } from './record.js';
import { Counts, DROP_REASONS, type FromThread, type ThreadData, type ToThread } from './thread-protocol.js';
import { Packer } from './wire.js';
import type { SinkOptions, WriterHooks } from './writer.js';

type SinkState = Omit<QueueStatus, 'sink' | 'dropped'>;

export class LogThread {
  private worker: Worker | undefined;
  private readonly shared: SharedArrayBuffer;
  private readonly counts: Counts;
  private readonly capacity: number;
  /** Entries posted to the thread, to set against those it has taken. */
  private posted = 0;
  private readonly lastErrors: (string | undefined)[] = [];
  /** Per sink and reason, the thread's drops already told to the hooks. */
  private readonly told: number[][];
  private closing = false;
  private onClosed: (() => void) | undefined;
  private startedAt = 0;
  /** Restarts in a row, each after twice the wait of the last. */
  private restarts = 0;
  /** Its buffer goes with each batch; the next one starts as large. */
  private readonly packer = new Packer();

  constructor(
    private readonly script: URL,
    private readonly options: SinkOptions,
    private readonly sinks: number,
    private readonly hooks: WriterHooks,
    private readonly logger?: Logger,
  ) {
    this.capacity = options.queue?.capacity ?? 10000;
    this.shared = new SharedArrayBuffer(Counts.bytes(sinks));
    this.counts = new Counts(this.shared);
    this.told = Array.from({ length: sinks }, () => DROP_REASONS.map(() => 0));
    this.start();
  }

  write(entries: readonly LogEntry[]): void {
    if (this.worker === undefined) return this.drop(this.closing ? 'shutdown' : 'sink_error', entries.length);
    const room = Math.max(0, this.capacity - (this.posted - this.counts.taken));
    if (room < entries.length) {
      this.drop('queue_full', entries.length - room);
      entries = entries.slice(0, room);
    }
    if (entries.length === 0) return;
    // An entry that cannot be read is not logged (as when its rows cannot be written).
    let n = 0;
    for (const e of entries) if (this.packer.add(e)) n++;
    const packed = this.packer.take();
    if (n === 0) return;
    const message: ToThread = { type: 'entries', n, packed };
    try {
      this.worker.postMessage(message, [packed.numbers]);
      this.posted += n;
    } catch {
      // A value that cannot be cloned (nothing a request decodes to): those entries, not the server.
      this.drop('sink_error', n);
    }
  }

  /** Each sink's queue, as the thread last told it. */
  status(): SinkState[] {
    this.sync();
    return Array.from({ length: this.sinks }, (_, i) => ({
      queued: this.counts.queued(i),
      written: this.counts.written(i),
      ...(this.lastErrors[i] === undefined ? {} : { lastError: this.lastErrors[i] }),
    }));
  }

  /** Tells the hooks the drops the thread has counted since the last time. */
  sync(): void {
    for (let i = 0; i < this.sinks; i++) {
      DROP_REASONS.forEach((reason, r) => {
        const n = this.counts.dropped(i, reason) - this.told[i][r];
        if (n <= 0) return;
        this.told[i][r] += n;
        this.hooks.onDrop(i, reason, n);
      });
    }
  }

  /** Writes what is queued, for at most `timeoutMs`; what is left is dropped. */
  async close(timeoutMs = 3000): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    if (worker === undefined) return;
    const closed = new Promise<void>((resolve) => {
      this.onClosed = resolve;
      worker.once('exit', () => resolve());
      setTimeout(resolve, timeoutMs).unref();
    });
    worker.postMessage({ type: 'close' } satisfies ToThread);
    await closed;
    this.sync();
    // What the thread had not written by now is lost with it.
    const left = this.posted - this.counts.taken;
    for (let i = 0; i < this.sinks; i++) {
      const n = left + this.counts.queued(i);
      if (n > 0) this.hooks.onDrop(i, 'shutdown', n);
    }
    this.worker = undefined;
    await worker.terminate();
  }

  private start(): void {
    this.startedAt = performance.now();
    const data: ThreadData = { options: this.options, counts: this.shared };
    const worker = new Worker(this.script, { workerData: data });
    // The thread never keeps the process up: close() is what waits for it.
    worker.unref();
    worker.on('message', (m: FromThread) => this.message(m));
    worker.on('error', (err) => this.logger?.warn({ err: err.message }, 'inference log thread failed'));
    worker.on('exit', () => this.exited(worker));
    this.worker = worker;
  }

  private message(m: FromThread): void {
    switch (m.type) {
      case 'warn':
        return this.hooks.onError(m.sink, m.message);
      case 'lastError':
        this.lastErrors[m.sink] = m.error;
        return;
      case 'closed':
        return this.onClosed?.();
    }
  }

  /** A thread that stopped on its own: its records are counted lost, and a new one starts. */
  private exited(worker: Worker): void {
    if (this.closing || this.worker !== worker) return;
    this.worker = undefined;
    this.sync();
    const inFlight = this.posted - this.counts.taken;
    for (let i = 0; i < this.sinks; i++) {
      const n = inFlight + this.counts.queued(i);
      if (n > 0) this.hooks.onDrop(i, 'sink_error', n);
    }
    this.counts.reset(this.posted, this.sinks);
    // One that keeps stopping is restarted ever more slowly (1 s, 2 s, … a minute), not in a loop.
    if (performance.now() - this.startedAt > 60_000) this.restarts = 0;
    const delayMs = Math.min(60_000, 1000 * 2 ** this.restarts++);
    this.logger?.warn({ restartInSeconds: delayMs / 1000 }, 'inference log thread stopped; its records are counted as dropped');
    setTimeout(() => {
      if (!this.closing) this.start();
    }, delayMs).unref();
  }

  private drop(reason: DropReason, n: number): void {
    for (let i = 0; i < this.sinks; i++) this.hooks.onDrop(i, reason, n);
  }
}
