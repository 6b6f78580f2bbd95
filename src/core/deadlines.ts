/**
 * Request deadlines without a timer per request: pending requests sit in a set that one interval
 * sweeps while any are pending (a setTimeout/clearTimeout pair per request costs more than the
 * inference of a small model).
 */
import { DeadlineExceededError } from '../errors.js';

interface Pending {
  readonly at: number;
  readonly expire: () => void;
}

const SWEEP_MS = 25;

export class Deadlines {
  private readonly pending = new Set<Pending>();
  private timer: NodeJS.Timeout | undefined;

  /** Settles like `work`, or rejects with DEADLINE_EXCEEDED after `ms` if it is still running. */
  race<T>(work: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { at: performance.now() + ms, expire: () => reject(new DeadlineExceededError(ms / 1000)) };
      this.pending.add(entry);
      if (this.timer === undefined) {
        this.timer = setInterval(() => this.sweep(), SWEEP_MS);
        this.timer.unref();
      }
      work.then(
        (v) => {
          this.pending.delete(entry);
          resolve(v);
        },
        (err: unknown) => {
          this.pending.delete(entry);
          reject(err);
        },
      );
    });
  }

  private sweep(): void {
    const now = performance.now();
    for (const e of this.pending) {
      if (e.at <= now) {
        this.pending.delete(e);
        e.expire();
      }
    }
    if (this.pending.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
