/**
 * Adaptive batching: concurrent requests to one model version are merged into one inference
 * call and the result is split back per request.
 *
 * - Batches form while the model is busy: a request that finds the model idle runs at once (no
 *   added latency at low load); requests that arrive meanwhile run together next. `waitMs` adds
 *   an optional wait for a batch to fill.
 * - A batch never holds more than `maxBatchSize` rows (rows, not requests); one request larger
 *   than that runs alone, whole.
 * - Only requests with the same input layout (kind, names, dtypes, inner shapes) and the same
 *   params are merged.
 * - If a batch fails, its requests are retried one by one, so a bad request fails alone.
 * - If a model's outputs cannot be split by row (e.g. MLflow's flattened DataFrame outputs), the
 *   batch is answered request by request and the model is not batched again.
 */
import type { LoadedModel } from '../flavors/flavor.js';
import { type DataFrame, type ModelInput, type ModelOutput, type Params, decodedOutput } from '../schema/model-io.js';
import { type NDArray, type TensorData, shapeSize } from '../schema/ndarray.js';
import type { RequestSpan } from '../monitor/trace/span.js';
import type { Logger } from '../util/log.js';
import { DeadlineExceededError } from '../errors.js';
import { dict } from '../util/dict.js';

export interface BatchOptions {
  maxBatchSize: number;
  /** @default 0 */
  waitMs?: number;
}

export interface BatchObserver {
  /** Rows and requests in one inference call. */
  onBatch(rows: number, requests: number): void;
  /** Seconds a request waited in the queue before its batch started. */
  onQueueWait(seconds: number): void;
}

interface Item {
  readonly input: ModelInput;
  readonly params: Params;
  readonly key: string;
  readonly rows: number;
  readonly enqueuedAt: number;
  readonly deadline: number | undefined;
  readonly trace: RequestSpan | undefined;
  resolve(out: ModelOutput): void;
  reject(err: unknown): void;
}

/** Rows (first dimension) of a batchable input, or undefined if it cannot be batched. */
export function batchRows(input: ModelInput): number | undefined {
  switch (input.kind) {
    case 'tensor':
      return input.value.shape.length > 0 ? input.value.shape[0] : undefined;
    case 'tensors': {
      let rows: number | undefined;
      for (const k in input.value) {
        const s = input.value[k].shape;
        if (s.length === 0 || (rows !== undefined && s[0] !== rows)) return undefined;
        rows = s[0];
      }
      return rows;
    }
    case 'dataframe':
      return input.value.rows;
    default:
      return undefined;
  }
}

const layout = (a: NDArray) => `${a.dtype}${a.shape.slice(1).join('x')}`;

function layoutKey(input: ModelInput): string {
  switch (input.kind) {
    case 'tensor':
      return `t:${layout(input.value)}`;
    case 'tensors':
      return `d:${Object.keys(input.value)
        .sort()
        .map((k) => `${k}=${layout(input.value[k])}`)
        .join(',')}`;
    case 'dataframe':
      return `f:${input.value.columns.map((c, i) => `${String(c)}=${layout(input.value.values[i])}`).join(',')}`;
    default:
      return 'json';
  }
}

function concatData(parts: readonly NDArray[], total: number): TensorData {
  const first = parts[0].data;
  if (!ArrayBuffer.isView(first)) return (parts as NDArray[]).flatMap((p) => p.data as unknown[]);
  const Ctor = first.constructor as new (n: number) => Float64Array;
  const out = new Ctor(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p.data as Float64Array, offset);
    offset += (p.data as Float64Array).length;
  }
  return out as unknown as TensorData;
}

function concatArrays(parts: readonly NDArray[]): NDArray {
  const rows = parts.reduce((n, p) => n + p.shape[0], 0);
  const shape = [rows, ...parts[0].shape.slice(1)];
  return { dtype: parts[0].dtype, shape, data: concatData(parts, shapeSize(shape)) };
}

function concatInputs(items: readonly Item[]): ModelInput {
  const first = items[0].input;
  switch (first.kind) {
    case 'tensor':
      return { kind: 'tensor', value: concatArrays(items.map((i) => (i.input as typeof first).value)) };
    case 'tensors': {
      const value = dict<NDArray>();
      for (const k in first.value) value[k] = concatArrays(items.map((i) => (i.input as typeof first).value[k]));
      return { kind: 'tensors', value };
    }
    case 'dataframe': {
      const frames = items.map((i) => (i.input as typeof first).value);
      const df: DataFrame = {
        columns: first.value.columns,
        values: first.value.columns.map((_, c) => concatArrays(frames.map((f) => f.values[c]))),
        rows: frames.reduce((n, f) => n + f.rows, 0),
      };
      return { kind: 'dataframe', value: df };
    }
    default:
      throw new Error('json inputs are not batched');
  }
}

function sliceArray(a: NDArray, from: number, rows: number): NDArray {
  const inner = shapeSize(a.shape.slice(1));
  const d = a.data as { subarray?: (s: number, e: number) => TensorData; slice: (s: number, e: number) => TensorData };
  const start = from * inner;
  const end = (from + rows) * inner;
  // Typed arrays are split as views (no copy); plain arrays are sliced.
  const data = d.subarray ? d.subarray(start, end) : d.slice(start, end);
  return { dtype: a.dtype, shape: [rows, ...a.shape.slice(1)], data };
}

/** Splits a batch's output back per request; undefined if some output is not one row per input row. */
function splitOutput(result: ModelOutput, sizes: readonly number[], total: number): ModelOutput[] | undefined {
  const out = decodedOutput(result);
  const each = <T>(f: (from: number, rows: number) => T): T[] => {
    let from = 0;
    return sizes.map((rows) => {
      const r = f(from, rows);
      from += rows;
      return r;
    });
  };
  const fits = (a: NDArray) => a.shape.length > 0 && a.shape[0] === total;
  switch (out.kind) {
    case 'tensor':
      return fits(out.value) ? each((from, rows) => ({ kind: 'tensor', value: sliceArray(out.value, from, rows) })) : undefined;
    case 'tensors': {
      const names = Object.keys(out.value);
      if (!names.every((n) => fits(out.value[n]))) return undefined;
      return each((from, rows) => ({
        kind: 'tensors',
        value: Object.fromEntries(names.map((n) => [n, sliceArray(out.value[n], from, rows)])),
      }));
    }
    case 'dataframe': {
      const df = out.value;
      if (df.rows !== total || !df.values.every(fits)) return undefined;
      return each((from, rows) => ({
        kind: 'dataframe',
        value: { columns: df.columns, values: df.values.map((v) => sliceArray(v, from, rows)), rows },
      }));
    }
    case 'json':
      return Array.isArray(out.value) && out.value.length === total
        ? each((from, rows) => ({ kind: 'json', value: (out.value as unknown[]).slice(from, from + rows) }))
        : undefined;
  }
}

/** JSON with sorted keys, so equal params give equal strings. */
function paramsKey(params: Params): string {
  const keys = Object.keys(params);
  if (keys.length === 0) return '';
  return JSON.stringify(
    keys.sort().map((k) => [k, params[k]]),
    (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

export class Batcher {
  private readonly queue: Item[] = [];
  private running = false;
  private scheduled = false;
  private splittable = true;
  private readonly maxRows: number;
  private readonly waitMs: number;

  constructor(
    private readonly model: LoadedModel,
    options: BatchOptions,
    private readonly logger?: Logger,
    private readonly observer?: BatchObserver,
  ) {
    this.maxRows = options.maxBatchSize;
    this.waitMs = options.waitMs ?? 0;
  }

  predict(input: ModelInput, params: Params, deadline?: number, trace?: RequestSpan): Promise<ModelOutput> {
    const rows = batchRows(input);
    if (!this.splittable || rows === undefined || rows >= this.maxRows) return this.model.predict(input, params);
    return new Promise<ModelOutput>((resolve, reject) => {
      this.queue.push({
        input,
        params,
        key: `${layoutKey(input)}|${paramsKey(params)}`,
        rows,
        enqueuedAt: performance.now(),
        deadline,
        trace,
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // setImmediate lets the requests parsed in this turn of the event loop join the batch.
    if (this.waitMs > 0) setTimeout(() => void this.run(), this.waitMs);
    else setImmediate(() => void this.run());
  }

  /** Takes the oldest request and every queued one compatible with it, up to the row limit. */
  private take(): Item[] {
    const first = this.queue.shift() as Item;
    const batch = [first];
    let rows = first.rows;
    for (let i = 0; i < this.queue.length && rows < this.maxRows;) {
      const it = this.queue[i];
      if (it.key === first.key && rows + it.rows <= this.maxRows) {
        batch.push(it);
        rows += it.rows;
        this.queue.splice(i, 1);
      } else {
        i++;
      }
    }
    return batch;
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const now = performance.now();
        const batch = this.take().filter((it) => {
          this.observer?.onQueueWait((now - it.enqueuedAt) / 1000);
          it.trace?.phase('queue wait', it.enqueuedAt, now);
          if (it.deadline !== undefined && now > it.deadline) {
            it.reject(new DeadlineExceededError());
            return false;
          }
          return true;
        });
        if (batch.length > 0) await this.runBatch(batch);
        // Yield between batches so requests that arrived meanwhile are parsed and can join the next one.
        if (this.queue.length > 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private async runBatch(batch: Item[]): Promise<void> {
    const sizes = batch.map((i) => i.rows);
    const total = sizes.reduce((a, b) => a + b, 0);
    this.observer?.onBatch(total, batch.length);
    const started = performance.now();
    if (batch.length === 1) {
      const it = batch[0];
      try {
        const out = await this.model.predict(it.input, it.params);
        traceBatch(batch, started, total);
        it.resolve(out);
      } catch (err) {
        it.reject(err);
      }
      return;
    }
    let out: ModelOutput;
    try {
      out = await this.model.predict(concatInputs(batch), batch[0].params);
      traceBatch(batch, started, total);
    } catch {
      // One request may have caused it: run them alone so only that one fails.
      await this.oneByOne(batch);
      return;
    }
    const parts = splitOutput(out, sizes, total);
    if (parts === undefined) {
      this.splittable = false;
      this.logger?.warn('the model gives outputs that are not one row per input row; batching is off for it');
      await this.oneByOne(batch);
      return;
    }
    batch.forEach((it, i) => it.resolve(parts[i]));
  }

  private async oneByOne(batch: readonly Item[]): Promise<void> {
    for (const it of batch) await this.model.predict(it.input, it.params).then(it.resolve, it.reject);
  }
}

/** Each traced request of a batch gets the batch's model call as a phase, with its size. */
function traceBatch(batch: readonly Item[], started: number, rows: number): void {
  let ended: number | undefined;
  for (const it of batch) {
    if (it.trace === undefined) continue;
    ended ??= performance.now();
    it.trace.phase('batch', started, ended, { 'modelgate.batch.rows': rows, 'modelgate.batch.requests': batch.length });
  }
}
