/**
 * Reads a request body with a size limit, straight from Node's IncomingMessage when there is one
 * (building a WHATWG Request for every call costs more than the inference of a small model), and
 * without buffering more than the limit: a declared Content-Length over it is refused before
 * reading, a chunked body as soon as it passes it.
 *
 * Two guards keep bodies from starving the server:
 * - a memory budget for all bodies in progress (received, decoded or scored): bytes are counted
 *   as they arrive (a declared Content-Length is not trusted: claiming 32 MiB and sending nothing
 *   must not hold the budget), and a request whose body would pass it gets 503, so many large
 *   bodies at once cannot exhaust memory. The first 64 KiB of every body are not counted: small
 *   requests, the common case, can never be starved by large ones holding the budget;
 * - a minimum transfer rate: a client that trickles its body (after a grace period) is cut off
 *   with 408, long before the whole-request timeout, so slow senders cannot hold connections and
 *   memory for a minute each.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { GatewayError } from '../errors.js';

function tooLarge(limit: number): GatewayError {
  // Connection: close, so the unread rest of the body is not parsed as the next request.
  return new GatewayError('REQUEST_LIMIT_EXCEEDED', `The request body is larger than the limit of ${limit} bytes.`, {
    status: 413,
    headers: { connection: 'close' },
  });
}

function overBudget(budget: number): GatewayError {
  return new GatewayError(
    'TEMPORARILY_UNAVAILABLE',
    `Request bodies in progress already use the server's body memory budget of ${budget} bytes; retry shortly.`,
    { headers: { 'retry-after': '1', connection: 'close' } },
  );
}

function tooSlow(rate: number): GatewayError {
  return new GatewayError('BAD_REQUEST', `The request body arrived slower than the minimum of ${rate} bytes per second.`, {
    status: 408,
    headers: { connection: 'close' },
  });
}

/** Bytes of request bodies held at once, across all requests of one app. */
export class BodyBudget {
  private used = 0;

  /** @param limit bytes; 0 = no budget */
  constructor(readonly limit: number) {}

  /** Takes `bytes` from the budget, or throws 503 if they do not fit. */
  take(bytes: number): void {
    if (this.limit > 0 && this.used + bytes > this.limit) throw overBudget(this.limit);
    this.used += bytes;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }

  get inUse(): number {
    return this.used;
  }
}

export interface BodyLimits {
  /** Largest body in bytes. */
  maxBytes: number;
  budget: BodyBudget;
  /** Bytes per second a body must keep up after the grace period; 0 = no minimum. */
  minBytesPerSecond: number;
  /** Seconds a body may take before the minimum rate applies. */
  graceSeconds: number;
}

/** A body being read: how much has arrived since when, and how to cut it off. */
interface Reading {
  readonly started: number;
  received: number;
  readonly abort: () => void;
}

const SWEEP_MS = 250;

/** Bytes of each body the budget does not count (see the top of this file). */
const FREE_BYTES = 64 * 1024;

/**
 * Checks bodies in progress against the minimum rate with one interval while any are pending (a
 * timer per request costs more than the inference of a small model).
 */
class RateWatch {
  private readonly pending = new Set<Reading>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rate: number,
    private readonly graceMs: number,
  ) {}

  add(r: Reading): void {
    if (this.rate <= 0) return;
    this.pending.add(r);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), SWEEP_MS);
      this.timer.unref();
    }
  }

  delete(r: Reading): void {
    this.pending.delete(r);
  }

  private sweep(): void {
    const now = performance.now();
    for (const r of this.pending) {
      const late = now - r.started - this.graceMs;
      if (late > 0 && r.received < (this.rate * late) / 1000) {
        this.pending.delete(r);
        r.abort();
      }
    }
    if (this.pending.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

const decoder = new TextDecoder();

/** A request body: its bytes, and its UTF-8 text, decoded on first use (a parquet body never is). */
export interface RequestBody {
  readonly bytes: Uint8Array;
  readonly text: string;
  /** Gives the body's bytes back to the budget (idempotent). */
  readonly release: () => void;
}

function requestBody(bytes: Uint8Array, release: () => void): RequestBody {
  let text: string | undefined;
  return {
    bytes,
    get text() {
      return (text ??= decoder.decode(bytes));
    },
    release,
  };
}

/** One app's body reader: its limits, budget and rate watch. */
export class BodyReader {
  private readonly watch: RateWatch;

  constructor(readonly limits: BodyLimits) {
    this.watch = new RateWatch(limits.minBytesPerSecond, limits.graceSeconds * 1000);
  }

  /**
   * The body, with `release` to call once the request is done with it (its bytes stay counted in
   * the budget until then, since the decoded body lives as long as the request).
   */
  async read(c: Context): Promise<RequestBody> {
    const { maxBytes, budget } = this.limits;
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (incoming === undefined) {
      const buf = await c.req.arrayBuffer();
      if (buf.byteLength > maxBytes) throw tooLarge(maxBytes);
      budget.take(buf.byteLength);
      return requestBody(
        new Uint8Array(buf),
        once(() => budget.give(buf.byteLength)),
      );
    }
    const declared = incoming.headers['content-length'];
    if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(maxBytes);
    let seen = 0;
    let held = 0;
    const hold = (n: number) => {
      seen += n;
      const counted = Math.max(0, seen - FREE_BYTES) - held;
      if (counted <= 0) return;
      budget.take(counted);
      held += counted;
    };
    const release = once(() => budget.give(held));
    try {
      return requestBody(await this.collect(incoming, hold), release);
    } catch (err) {
      release();
      throw err;
    }
  }

  private collect(incoming: IncomingMessage, hold: (n: number) => void): Promise<Buffer> {
    const { maxBytes, minBytesPerSecond } = this.limits;
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const reading: Reading = {
        started: performance.now(),
        received: 0,
        abort: () => fail(tooSlow(minBytesPerSecond)),
      };
      const cleanup = () => {
        this.watch.delete(reading);
        incoming.off('data', onData);
        incoming.off('end', onEnd);
        incoming.off('error', onError);
        incoming.off('close', onClose);
      };
      const fail = (err: GatewayError) => {
        cleanup();
        incoming.pause();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        reading.received = size;
        if (size > maxBytes) return fail(tooLarge(maxBytes));
        try {
          hold(chunk.length);
        } catch (err) {
          return fail(err as GatewayError);
        }
        chunks.push(chunk);
      };
      const onEnd = () => {
        cleanup();
        resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
      };
      const onError = (err: Error) => fail(new GatewayError('BAD_REQUEST', `The request body could not be read: ${err.message}`));
      const onClose = () => {
        if (!incoming.readableEnded) onError(new Error('the client closed the connection'));
      };
      incoming.on('data', onData);
      incoming.on('end', onEnd);
      incoming.on('error', onError);
      incoming.on('close', onClose);
      this.watch.add(reading);
    });
  }
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}

/** A request header, from Node's parsed headers when available (avoids building a Headers object). */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined) return c.req.header(name);
  const v = incoming.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}
