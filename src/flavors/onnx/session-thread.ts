/**
 * An onnxruntime session in a worker thread of its own. onnxruntime-node creates sessions and
 * runs them synchronously on the calling thread, so a slow graph run in the server's thread
 * stops everything else; here it stops only this thread.
 *
 * onnxruntime-node aborts the whole process (an uncaught C++ `Napi::Error`) when a worker is
 * terminated while a session creation or run is in progress, so a worker is never terminated:
 * it is asked to exit, does so as soon as its native call returns, and meanwhile is given no
 * more work. Its calls fail at once; only the CPU it uses lasts until then.
 *
 * The thread is started from source text (`eval: true`), as src/flavors/js/thread.ts is, so it
 * works the same from the TypeScript sources, the compiled tree and the one-file bundle.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import type { Logger } from '../../util/log.js';

/** A tensor as it crosses between threads (and what a run returns): onnxruntime's Tensor fits it. */
export interface TensorLike {
  readonly type: Ort.Tensor.Type;
  readonly dims: readonly number[];
  readonly data: Ort.Tensor.DataType;
}

/** The model a session is created from: a file, or the bytes of a graph compiled in memory. */
export type SessionModel = { readonly path: string } | { readonly bytes: Uint8Array };

export type ValueMetadata = Ort.InferenceSession.ValueMetadata;

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

type ToThread =
  | { type: 'create'; id: number; model: SessionModel; options: Ort.InferenceSession.SessionOptions }
  | { type: 'run'; id: number; feeds: Record<string, TensorLike>; fetches: readonly string[] }
  | { type: 'probe'; id: number; rows: number; maxElements: number; runs: number; fastMs: number; slowMs: number }
  | { type: 'release'; id: number }
  | { type: 'exit' };

type FromThread =
  | { type: 'ready'; id: number; createMs: number; version: string; inputMetadata: ValueMetadata[]; outputMetadata: ValueMetadata[] }
  | { type: 'create-error'; id: number; error: SerializedError }
  | { type: 'result'; id: number; outputs: Record<string, TensorLike>; runMs: number }
  | { type: 'probe-result'; id: number; runMs: number }
  | { type: 'released'; id: number }
  | { type: 'error'; id: number; error: SerializedError };

/**
 * The thread's main function. Self-contained: it is started from its source text, which Node
 * reads as CommonJS or as an ES module depending on the process's flags (`--input-type`), so it
 * reaches modules through `process.getBuiltinModule` rather than `require` or `import`.
 * It holds one session at a time: `create`, then runs and probes, then `release`, after which
 * the thread (onnxruntime already loaded) can take the next `create`.
 */
function sessionThreadMain(): void {
  const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
  const { ortPath } = workerData as { ortPath: string };
  const { createRequire } = process.getBuiltinModule('node:module');
  const ort = createRequire(ortPath)(ortPath) as typeof Ort;
  const port = parentPort!;
  const post = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  const serialize = (e: unknown): SerializedError =>
    e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : { name: 'Error', message: String(e) };
  const ZEROS: Partial<Record<string, new (n: number) => Ort.Tensor.DataType>> = {
    float32: Float32Array,
    float64: Float64Array,
    float16: Uint16Array,
    int8: Int8Array,
    uint8: Uint8Array,
    int16: Int16Array,
    uint16: Uint16Array,
    int32: Int32Array,
    uint32: Uint32Array,
    int64: BigInt64Array,
    uint64: BigUint64Array,
    bool: Uint8Array,
  };
  let session: Ort.InferenceSession | undefined;
  let busy = false;
  let exiting = false;
  const queue: Exclude<ToThread, { type: 'exit' }>[] = [];

  const finish = () => {
    const s = session;
    session = undefined;
    void Promise.resolve()
      .then(() => s?.release())
      .finally(() => process.exit(0));
  };
  const tensorOf = (t: TensorLike) => new ort.Tensor(t.type, t.data as Ort.Tensor.DataTypeMap['float32'], t.dims);
  /** Zero inputs shaped from the metadata: `rows` for a variable first dimension, 1 for other variable ones. */
  const zeroFeeds = (s: Ort.InferenceSession, rows: number, maxElements: number) => {
    const feeds: Record<string, Ort.Tensor> = {};
    for (const m of s.inputMetadata) {
      if (!m.isTensor) throw new Error(`input '${m.name}' is not a tensor`);
      const dims = m.shape.map((d, i) => (typeof d === 'number' && d >= 0 ? d : i === 0 ? rows : 1));
      const n = dims.reduce((a, b) => a * b, 1);
      if (n > maxElements) throw new Error(`input '${m.name}' would have ${n} elements`);
      const Zeros = ZEROS[m.type];
      if (m.type === 'string') feeds[m.name] = new ort.Tensor('string', new Array<string>(n).fill(''), dims);
      else if (Zeros !== undefined) feeds[m.name] = new ort.Tensor(m.type, new Zeros(n) as Float32Array, dims);
      else throw new Error(`input '${m.name}' has type ${m.type}`);
    }
    return feeds;
  };
  const probe = async (s: Ort.InferenceSession, m: Extract<ToThread, { type: 'probe' }>) => {
    const feeds = zeroFeeds(s, m.rows, m.maxElements);
    const fetches = s.outputMetadata.filter((o) => o.isTensor).map((o) => o.name);
    const timed = async () => {
      const t = performance.now();
      await s.run(feeds, fetches);
      return performance.now() - t;
    };
    // The first run pays one-time costs (0.5–4 ms for iris): it counts only when it is slow beyond doubt.
    const first = await timed();
    if (first > m.slowMs) return first;
    let best = Infinity;
    for (let i = 0; i < m.runs && best > m.fastMs; i++) best = Math.min(best, await timed());
    return best;
  };
  const create = async (m: Extract<ToThread, { type: 'create' }>) => {
    const started = performance.now();
    try {
      const source = 'path' in m.model ? m.model.path : m.model.bytes;
      session = await ort.InferenceSession.create(source as string, m.options);
    } catch (e) {
      // The thread is not reused after a failed creation: it exits.
      post({ type: 'create-error', id: m.id, error: serialize(e) });
      exiting = true;
      return;
    }
    if (exiting) return;
    post({
      type: 'ready',
      id: m.id,
      createMs: performance.now() - started,
      version: ort.env.versions.node ?? 'unknown',
      inputMetadata: session.inputMetadata.slice(),
      outputMetadata: session.outputMetadata.slice(),
    });
  };
  const handle = async (m: Exclude<ToThread, { type: 'exit' }>) => {
    if (m.type === 'create') return create(m);
    try {
      if (m.type === 'release') {
        const s = session;
        session = undefined;
        await s?.release();
        return post({ type: 'released', id: m.id });
      }
      const s = session;
      if (s === undefined) throw new Error('no ONNX session in this thread');
      if (m.type === 'probe') return post({ type: 'probe-result', id: m.id, runMs: await probe(s, m) });
      const feeds: Record<string, Ort.Tensor> = {};
      for (const k in m.feeds) feeds[k] = tensorOf(m.feeds[k]);
      const t = performance.now();
      const out = await s.run(feeds, m.fetches);
      const runMs = performance.now() - t;
      const outputs: Record<string, TensorLike> = {};
      const transfer = new Set<ArrayBuffer>();
      for (const k in out) {
        const o = out[k] as Ort.Tensor;
        outputs[k] = { type: o.type, dims: o.dims, data: o.data };
        if (ArrayBuffer.isView(o.data)) transfer.add(o.data.buffer as ArrayBuffer);
      }
      post({ type: 'result', id: m.id, outputs, runMs }, [...transfer]);
    } catch (e) {
      post({ type: 'error', id: m.id, error: serialize(e) });
    }
  };
  // One call at a time, in order; between calls the loop turns, so an 'exit' is seen before the next call starts.
  const pump = () => {
    if (busy) return;
    if (exiting) return finish();
    const m = queue.shift();
    if (m === undefined) return;
    busy = true;
    void handle(m).finally(() => {
      busy = false;
      setImmediate(pump);
    });
  };
  port.on('message', (m: ToThread) => {
    if (m.type !== 'exit') {
      queue.push(m);
      return pump();
    }
    exiting = true;
    queue.length = 0;
    pump();
  });
}

const THREAD_SOURCE = `'use strict';\n(${sessionThreadMain.toString()})();\n`;

function revive(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

/**
 * Feeds as they are posted, and the buffers moved with them. A view over part of a larger buffer
 * is copied first: posting it would copy (and transferring would take) the whole buffer.
 */
function wireFeeds(feeds: Readonly<Record<string, TensorLike>>): { wire: Record<string, TensorLike>; transfer: ArrayBuffer[] } {
  const wire: Record<string, TensorLike> = {};
  const transfer = new Set<ArrayBuffer>();
  for (const k in feeds) {
    const { type, dims, data } = feeds[k];
    if (!ArrayBuffer.isView(data)) {
      wire[k] = { type, dims, data };
      continue;
    }
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
    const own = whole && !transfer.has(data.buffer) ? data : (data.slice() as typeof data);
    transfer.add(own.buffer as ArrayBuffer);
    wire[k] = { type, dims, data: own };
  }
  return { wire, transfer: [...transfer] };
}

/** Workers asked to exit while in a native call, by model key: they exit when it returns. */
const stuck = new Map<Worker, string>();
const exits = new Set<Promise<void>>();

function keyOf(model: SessionModel): string {
  return 'path' in model ? `path:${model.path}` : `sha256:${createHash('sha256').update(model.bytes).digest('hex')}`;
}

/** Every session with a thread. */
const sessions = new Set<ThreadSession>();

/** Asks an idle worker to exit; the process waits for that (see {@link stopSessionThreads}). */
function exitWorker(worker: Worker): void {
  const gone: Promise<void> = new Promise<void>((resolve) => worker.once('exit', () => resolve())).finally(() => exits.delete(gone));
  exits.add(gone);
  worker.ref();
  worker.postMessage({ type: 'exit' } satisfies ToThread);
}

/**
 * Threads whose session was released, onnxruntime still loaded, kept for the next session: a
 * new thread costs ~40 ms (Node's start and onnxruntime's load), far more than creating and
 * probing a small model, which `auto` does for every model it places. A few at most, each
 * for a short while.
 */
interface Spare {
  readonly worker: Worker;
  readonly ortPath: string;
  readonly timer: NodeJS.Timeout;
  readonly onExit: () => void;
}
const spares: Spare[] = [];
const MAX_SPARES = 2;
const SPARE_IDLE_MS = 30_000;

function dropSpare(spare: Spare): void {
  const i = spares.indexOf(spare);
  if (i >= 0) spares.splice(i, 1);
  clearTimeout(spare.timer);
  spare.worker.off('exit', spare.onExit);
}

function offerSpare(worker: Worker, ortPath: string): void {
  if (spares.length >= MAX_SPARES) return exitWorker(worker);
  worker.unref();
  const spare: Spare = {
    worker,
    ortPath,
    timer: setTimeout(() => {
      dropSpare(spare);
      exitWorker(worker);
    }, SPARE_IDLE_MS).unref(),
    onExit: () => dropSpare(spare),
  };
  worker.once('exit', spare.onExit);
  spares.push(spare);
}

let threadsStarted = 0;

/** Threads started by this process, and the spare ones now kept (for tests). */
export function sessionThreadCounts(): { started: number; spare: number } {
  return { started: threadsStarted, spare: spares.length };
}

function newWorker(ortPath: string): Worker {
  threadsStarted++;
  return new Worker(THREAD_SOURCE, { eval: true, workerData: { ortPath } });
}

function takeSpare(ortPath: string): Worker | undefined {
  const spare = spares.find((s) => s.ortPath === ortPath);
  if (spare === undefined) return undefined;
  dropSpare(spare);
  return spare.worker;
}

/**
 * For a process about to exit, once its models are unloaded: gives up sessions still creating
 * or running (loads in progress, inferences after their 504) and resolves when every thread
 * asked to exit has. The process must not exit before: Node stops remaining threads at exit, and
 * stopping one inside onnxruntime aborts the process.
 */
export async function stopSessionThreads(): Promise<void> {
  for (const s of [...sessions]) if (s.busy) s.abandon(new Error('The server is stopping'));
  for (const spare of [...spares]) {
    dropSpare(spare);
    exitWorker(spare.worker);
  }
  while (exits.size > 0) await Promise.all([...exits]);
}

export interface ThreadPlan {
  readonly ortPath: string;
  readonly model: SessionModel;
  readonly options: Ort.InferenceSession.SessionOptions;
}

interface Pending {
  resolve(m: FromThread): void;
  reject(err: Error): void;
}

/** Least time between two restarts of a thread whose session keeps failing to create. */
const RESTART_BACKOFF_MS = 1000;
/** How long release() waits for the thread to exit (it is still in a native call if it takes longer). */
const RELEASE_WAIT_MS = 5000;

export class ThreadSession {
  readonly isolation = 'thread';
  inputMetadata: readonly ValueMetadata[] = [];
  outputMetadata: readonly ValueMetadata[] = [];
  runtimeVersion = 'unknown';
  /** Milliseconds the last session creation took in the thread. */
  createMs = 0;
  private worker: Worker | undefined;
  /** True while the current worker is creating its session (a native call). */
  private creating = false;
  private ready: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  private lastStart = 0;
  private readonly key: string;
  /** Removes this session's listeners from its worker (which may go on to serve another session). */
  private unlisten: () => void = () => undefined;

  private constructor(
    private readonly plan: ThreadPlan,
    private readonly logger: Logger,
  ) {
    this.key = keyOf(plan.model);
    sessions.add(this);
    this.ready = this.start();
  }

  /** True while the thread is inside onnxruntime (or has calls waiting for it). */
  get busy(): boolean {
    return this.worker !== undefined && (this.creating || this.pending.size > 0);
  }

  /**
   * Starts the thread and waits for its session. An aborted signal (a missed load deadline)
   * fails it at once, and from then on any call it still has.
   */
  static async start(plan: ThreadPlan, logger: Logger, signal?: AbortSignal): Promise<ThreadSession> {
    const key = keyOf(plan.model);
    if ([...stuck.values()].includes(key)) {
      throw new Error(
        'An earlier attempt to create this ONNX session was stopped at its deadline and is still running in its thread; it is not started again until that ends.',
      );
    }
    const missed = () => new Error('The ONNX session thread was stopped: the load missed its deadline');
    if (signal?.aborted === true) throw missed();
    const session = new ThreadSession(plan, logger);
    const aborted = () => session.abandon(missed());
    signal?.addEventListener('abort', aborted, { once: true });
    session.detach = () => signal?.removeEventListener('abort', aborted);
    try {
      await session.ready;
    } catch (err) {
      session.detach();
      await session.release();
      throw err;
    }
    return session;
  }

  private detach: () => void = () => undefined;
  /** Fails the session creation in progress (a missed deadline does not wait for it). */
  private failStart: (err: Error) => void = () => undefined;

  private start(): Promise<void> {
    this.lastStart = Date.now();
    const { ortPath, model, options } = this.plan;
    const worker = takeSpare(ortPath) ?? newWorker(ortPath);
    this.worker = worker;
    this.creating = true;
    let lastError: Error | undefined;
    return new Promise<void>((resolve, reject) => {
      this.failStart = reject;
      const onMessage = (m: FromThread) => {
        // A thread asked to exit may still answer; its calls have failed already.
        if (this.worker !== worker) return;
        switch (m.type) {
          case 'ready':
            this.creating = false;
            this.createMs = m.createMs;
            this.runtimeVersion = m.version;
            this.inputMetadata = m.inputMetadata;
            this.outputMetadata = m.outputMetadata;
            this.idle(worker);
            return resolve();
          case 'create-error':
            // The thread exits by itself.
            this.creating = false;
            this.worker = undefined;
            return reject(revive(m.error));
          default: {
            const p = this.pending.get(m.id);
            if (p === undefined) return;
            this.pending.delete(m.id);
            this.idle(worker);
            return m.type === 'error' ? p.reject(revive(m.error)) : p.resolve(m);
          }
        }
      };
      const onError = (err: Error) => {
        lastError = err;
        this.logger.error({ err }, 'ONNX session thread crashed');
      };
      const onExit = (code: number) => {
        stuck.delete(worker);
        if (this.worker !== worker) return;
        this.worker = undefined;
        const why = new Error(`The ONNX session thread stopped (exit code ${code})${lastError ? `: ${lastError.message}` : ''}`);
        if (this.creating) {
          this.creating = false;
          return reject(why);
        }
        if (!this.closing) this.restart(why);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      this.unlisten = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      // A spare thread is unreferenced; one creating a session keeps the process alive.
      worker.ref();
      worker.postMessage({ type: 'create', id: this.nextId++, model, options } satisfies ToThread);
    });
  }

  /**
   * An idle thread does not keep the process alive (as a session in the server's thread would not);
   * a busy one does, so the process never exits (stopping its threads) while one is inside onnxruntime.
   */
  private idle(worker: Worker): void {
    if (this.pending.size === 0) worker.unref();
  }

  /** A thread that died: its calls fail (500) and a new one creates the session again. */
  private restart(reason: Error): void {
    this.failPending(reason);
    this.logger.error({ reason: reason.message }, 'restarting the ONNX session thread');
    this.ready = this.start();
    this.ready.catch((err: unknown) => this.logger.error({ err }, 'the ONNX session could not be created again'));
  }

  private failPending(reason: Error): void {
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
  }

  /** Asks the thread to exit: at once when idle, else when its native call returns; it gets no more work. */
  private stopWorker(reason: Error): Worker | undefined {
    const worker = this.worker;
    this.worker = undefined;
    if (worker === undefined) return undefined;
    if (this.creating || this.pending.size > 0) {
      stuck.set(worker, this.key);
      this.logger.warn(
        { reason: reason.message },
        'the ONNX session thread is inside onnxruntime, which cannot be interrupted: it exits when that call returns',
      );
    }
    this.failPending(reason);
    if (this.creating) this.failStart(reason);
    this.creating = false;
    // Releasing the session is a native call too: the process waits for the thread to end by itself.
    exitWorker(worker);
    return worker;
  }

  /** Ends the session at once (a missed load deadline, the server stopping), without waiting for the thread. */
  abandon(reason: Error): void {
    sessions.delete(this);
    this.closing = true;
    this.stopWorker(reason);
  }

  private async running(): Promise<Worker> {
    try {
      await this.ready;
    } catch (err) {
      // The last restart could not create the session; try again, but not in a tight loop.
      if (this.closing || Date.now() - this.lastStart < RESTART_BACKOFF_MS) throw err;
      this.ready = this.start();
      await this.ready;
    }
    if (this.worker === undefined) throw new Error('The ONNX session is released');
    return this.worker;
  }

  private async call(message: ToThread & { id: number }, transfer: ArrayBuffer[] = []): Promise<FromThread> {
    const worker = await this.running();
    return new Promise<FromThread>((resolve, reject) => {
      this.pending.set(message.id, { resolve, reject });
      worker.ref();
      worker.postMessage(message, transfer);
    });
  }

  /** Runs the session; the feeds' buffers move to the thread (callers must not use them afterwards). */
  async run(feeds: Readonly<Record<string, TensorLike>>, fetches: readonly string[]): Promise<Record<string, TensorLike>> {
    return (await this.timedRun(feeds, fetches)).outputs;
  }

  /** {@link run}, with the milliseconds the session took in the thread. */
  async timedRun(
    feeds: Readonly<Record<string, TensorLike>>,
    fetches: readonly string[],
  ): Promise<{ outputs: Record<string, TensorLike>; runMs: number }> {
    const { wire, transfer } = wireFeeds(feeds);
    const m = await this.call({ type: 'run', id: this.nextId++, feeds: wire, fetches }, transfer);
    if (m.type !== 'result') throw new Error(`unexpected reply '${m.type}' from the ONNX session thread`);
    return { outputs: m.outputs, runMs: m.runMs };
  }

  /**
   * The fastest of up to `runs` inferences on zero inputs (`rows` rows where the first dimension
   * is variable, 1 for other variable dimensions), after one untimed run unless that took over
   * `slowMs`; it stops at the first within `fastMs`. Rejects when no such inputs can be built (a type without zeros, more than
   * `maxElements` elements) or the graph refuses them.
   */
  async probe(limits: { rows: number; runs: number; fastMs: number; slowMs: number; maxElements: number }): Promise<number> {
    const m = await this.call({ type: 'probe', id: this.nextId++, ...limits });
    if (m.type !== 'probe-result') throw new Error(`unexpected reply '${m.type}' from the ONNX session thread`);
    return m.runMs;
  }

  /**
   * Releases the session and keeps its thread, onnxruntime loaded, for the next session created
   * (`auto` probing a small model that then moves to the server's thread). A busy session is
   * released as {@link release} does.
   */
  async recycle(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined || this.busy || this.closing) return this.release();
    sessions.delete(this);
    this.closing = true;
    this.detach();
    try {
      const m = await this.call({ type: 'release', id: this.nextId++ });
      if (m.type !== 'released') throw new Error(`unexpected reply '${m.type}' from the ONNX session thread`);
    } catch {
      return this.release();
    }
    if (this.worker !== worker) return;
    this.unlisten();
    this.worker = undefined;
    offerSpare(worker, this.plan.ortPath);
  }

  /** Ends the thread; waits a few seconds for it (longer only if it is still in a native call, which it is then left to finish). */
  async release(): Promise<void> {
    sessions.delete(this);
    this.closing = true;
    this.detach();
    const worker = this.stopWorker(new Error('The ONNX session is released'));
    if (worker === undefined) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, RELEASE_WAIT_MS);
      timer.unref();
      worker.once('exit', () => (clearTimeout(timer), resolve()));
    });
  }
}
