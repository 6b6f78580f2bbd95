/** What the server's thread and the log's thread tell each other. */
import type { DropReason } from './queue.js';
import type { Packed } from './wire.js';
import type { SinkOptions } from './writer.js';

export interface ThreadData {
  readonly options: SinkOptions;
  /** {@link Counts}' memory. */
  readonly counts: SharedArrayBuffer;
}

export type ToThread = { readonly type: 'entries'; readonly n: number; readonly packed: Packed } | { readonly type: 'close' };

export type FromThread =
  | { readonly type: 'warn'; readonly sink: string; readonly message: string }
  | { readonly type: 'lastError'; readonly sink: number; readonly error: string | undefined }
  /** Everything queued at `close` has been written or dropped. */
  | { readonly type: 'closed' };

export const DROP_REASONS: readonly DropReason[] = ['queue_full', 'sink_error', 'shutdown'];
const PER_SINK = 2 + DROP_REASONS.length;

/**
 * Counts in shared memory, written by the log's thread and read by the server's: entries taken
 * from the server, and per sink the records queued, written, and dropped by reason. Only one
 * thread writes each (the server only after the log's thread has exited), so no lock: a reader
 * may see a count a moment old, never a torn one (aligned doubles).
 */
export class Counts {
  static bytes(sinks: number): number {
    return Float64Array.BYTES_PER_ELEMENT * (1 + sinks * PER_SINK);
  }

  private readonly c: Float64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.c = new Float64Array(buffer);
  }

  get taken(): number {
    return this.c[0];
  }

  addTaken(n: number): void {
    this.c[0] += n;
  }

  queued(sink: number): number {
    return this.c[1 + sink * PER_SINK];
  }

  setQueued(sink: number, n: number): void {
    this.c[1 + sink * PER_SINK] = n;
  }

  written(sink: number): number {
    return this.c[2 + sink * PER_SINK];
  }

  addWritten(sink: number, n: number): void {
    this.c[2 + sink * PER_SINK] += n;
  }

  dropped(sink: number, reason: DropReason): number {
    return this.c[3 + sink * PER_SINK + DROP_REASONS.indexOf(reason)];
  }

  addDrop(sink: number, reason: DropReason, n: number): void {
    this.c[3 + sink * PER_SINK + DROP_REASONS.indexOf(reason)] += n;
  }

  /** After the log's thread has gone: what it had taken is all accounted for. */
  reset(taken: number, sinks: number): void {
    this.c[0] = taken;
    for (let i = 0; i < sinks; i++) this.setQueued(i, 0);
  }
}
