/**
 * Where an onnxruntime session runs. onnxruntime-node creates sessions and runs them
 * synchronously on the calling thread, so in the server's thread a slow graph holds every other
 * request, health checks and the deadlines' timers until it is done. Every flavour that runs an
 * ONNX graph (a file, or bytes compiled in memory) goes through {@link createSessionRunner}:
 *
 * - `thread`: the session lives in a worker thread of its own (session-thread.ts); feeds and
 *   outputs move between threads without copies; a load that misses its deadline fails at once.
 * - `none`: the session lives in the server's thread, as onnxruntime-node gives it.
 * - `auto` (the default): the session is first created in a thread, and stays there when it is
 *   slow: its creation took over {@link AUTO_LIMITS}.createMs, or its fastest inference on zero
 *   inputs (64 rows where the batch dimension is variable) took over `runMs`, or no zero inputs
 *   could be run. Otherwise it is created again in the server's thread, where small models
 *   answer without two wake-ups between threads per call; the probe's thread is then kept for the
 *   next probe (session-thread.ts: spare threads). The choice is remembered per model file, so a
 *   model loaded again (a gateway reloading it on demand) skips the probe.
 */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { type Logger, silentLogger } from '../../util/log.js';
import type { FlavorLoadContext } from '../flavor.js';
import { type OrtModule, loadOnnxRuntime, resolveOnnxRuntime } from './runtime.js';
import { type SessionModel, type TensorLike, ThreadSession, type ValueMetadata } from './session-thread.js';

export { sessionThreadCounts, stopSessionThreads, type SessionModel, type TensorLike } from './session-thread.js';

export type OnnxIsolation = 'auto' | 'thread' | 'none';

/** An onnxruntime session, wherever it runs. */
export interface SessionRunner {
  /** Where it runs: the server's thread, or a thread of its own. */
  readonly isolation: 'none' | 'thread';
  /** onnxruntime's version, for logs and metrics. */
  readonly runtimeVersion: string;
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /**
   * Runs the graph. Under `thread` the feeds' buffers move to the session's thread: the caller
   * must not use them afterwards. Outputs are onnxruntime Tensors or plain `{type, dims, data}`.
   */
  run(feeds: Readonly<Record<string, TensorLike>>, fetches: readonly string[]): Promise<Record<string, TensorLike>>;
  release(): Promise<void>;
}

export interface RunnerOptions {
  /** @default 'auto' */
  isolation?: OnnxIsolation;
  /** Aborted when the load missed its deadline: a session being created in a thread is given up at once. */
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * The `auto` rule's limits, from measurements on the 2-core machines here. A thread costs
 * 0.05–0.2 ms per call (two wake-ups between threads): iris took 0.14 ms more per request at one
 * connection and 15–33 % fewer req/s at 16; the bench MLP (0.25 ms at 1 row, 1.2 ms at 64) took
 * 0.19 ms more at one connection and was even (±4 %) at 64 with batching. So a thread pays off
 * once a full batch takes over 2 ms (its cost is then under 10 %), and a stall shorter than that
 * holds no health check or deadline back. Creation: iris 1–2 ms (25 ms for the process's first
 * session), the MLP 7–30 ms; a 100 ms creation in the server's thread is one short stall per load.
 */
export const AUTO_LIMITS = {
  /** A creation slower than this keeps the thread. */
  createMs: 100,
  /** An inference (of `probeRows` rows) slower than this keeps the thread. */
  runMs: 2,
  /** Rows fed where the first dimension is variable: a full batch at the default --max-batch-size. */
  probeRows: 64,
  /** Inferences timed at most, after a first one that pays one-time costs; the fastest counts… */
  probeRuns: 5,
  /** …unless that first one took longer than this, which no one-time cost comes near: the model is slow. */
  probeSlowMs: 20,
  /** Zero inputs larger than this are not built: such a model keeps the thread. */
  probeMaxElements: 1 << 24,
} as const;

/** The runner options of a flavour's load: the server's isolation setting, the load deadline, the logger. */
export function runnerOptions(ctx: FlavorLoadContext): RunnerOptions {
  return {
    ...(ctx.options.onnxIsolation === undefined ? {} : { isolation: ctx.options.onnxIsolation }),
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    logger: ctx.logger,
  };
}

class InThreadSession implements SessionRunner {
  readonly isolation = 'none';
  readonly runtimeVersion: string;

  constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
  ) {
    this.runtimeVersion = ort.env.versions.node ?? 'unknown';
  }

  get inputMetadata(): readonly ValueMetadata[] {
    return this.session.inputMetadata;
  }

  get outputMetadata(): readonly ValueMetadata[] {
    return this.session.outputMetadata;
  }

  async run(feeds: Readonly<Record<string, TensorLike>>, fetches: readonly string[]): Promise<Record<string, TensorLike>> {
    const tensors: Record<string, Ort.Tensor> = {};
    for (const k in feeds) {
      const f = feeds[k];
      tensors[k] = f instanceof this.ort.Tensor ? f : new this.ort.Tensor(f.type, f.data as Float32Array, f.dims);
    }
    return (await this.session.run(tensors, fetches as string[])) as Record<string, TensorLike>;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

async function createInThread(model: SessionModel, options: Ort.InferenceSession.SessionOptions): Promise<InThreadSession> {
  const ort = await loadOnnxRuntime();
  const session = await ('path' in model
    ? ort.InferenceSession.create(model.path, options)
    : ort.InferenceSession.create(model.bytes, options));
  return new InThreadSession(ort, session);
}

interface Choice {
  isolation: 'none' | 'thread';
  reason: string;
  probeMs?: number;
}

/** The `auto` rule, applied to a session already created in its thread. */
async function choose(session: ThreadSession): Promise<Choice> {
  if (session.createMs > AUTO_LIMITS.createMs) return { isolation: 'thread', reason: `creation took over ${AUTO_LIMITS.createMs} ms` };
  let probeMs: number;
  try {
    probeMs = await session.probe({
      rows: AUTO_LIMITS.probeRows,
      runs: AUTO_LIMITS.probeRuns,
      fastMs: AUTO_LIMITS.runMs,
      slowMs: AUTO_LIMITS.probeSlowMs,
      maxElements: AUTO_LIMITS.probeMaxElements,
    });
  } catch (err) {
    return { isolation: 'thread', reason: `no inference on zero inputs could be timed (${(err as Error).message})` };
  }
  return probeMs > AUTO_LIMITS.runMs
    ? { isolation: 'thread', reason: `an inference took over ${AUTO_LIMITS.runMs} ms`, probeMs }
    : { isolation: 'none', reason: 'small and fast', probeMs };
}

/**
 * Probes take turns: timed while other probes start threads and create sessions on the same
 * cores, a small model's creation passes the 100 ms limit and keeps a thread it does not need
 * (7 of 20 iris copies loaded at once did), and one at a time they reuse a spare thread. A turn
 * lasts at most {@link PROBE_TURN_MS}, so a model slow to create (it will keep its thread) does
 * not hold the others' loads back.
 */
const PROBE_TURN_MS = AUTO_LIMITS.createMs + 50;
const PROBES_AT_ONCE = Math.max(1, availableParallelism() - 1);
let probing = 0;
const waiting: (() => void)[] = [];

async function probeTurn(): Promise<() => void> {
  if (probing >= PROBES_AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve));
  else probing++;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    const next = waiting.shift();
    if (next === undefined) probing--;
    else next();
  };
  const timer = setTimeout(end, PROBE_TURN_MS);
  timer.unref();
  return end;
}

/**
 * Creates a session for a model file or graph bytes. Flavours pass their load context's
 * {@link runnerOptions}; the session's `release()` ends it (and its thread).
 */
export async function createSessionRunner(
  model: SessionModel,
  sessionOptions: Ort.InferenceSession.SessionOptions,
  options: RunnerOptions = {},
): Promise<SessionRunner> {
  const isolation = options.isolation ?? 'auto';
  if (isolation === 'none') return createInThread(model, sessionOptions);
  const logger = options.logger ?? silentLogger();
  const key = isolation === 'auto' ? await placementKey(model, sessionOptions) : undefined;
  const known = key === undefined ? undefined : PLACED.get(key);
  if (known === 'none') return createInThread(model, sessionOptions);
  const plan = { ortPath: await resolveOnnxRuntime(), model, options: sessionOptions };
  if (isolation === 'thread' || known === 'thread') return ThreadSession.start(plan, logger, options.signal);
  const done = await probeTurn();
  try {
    const threaded = await ThreadSession.start(plan, logger, options.signal);
    let choice: Choice;
    try {
      choice = await choose(threaded);
    } catch (err) {
      await threaded.release();
      throw err;
    }
    logger.info(
      { isolation: choice.isolation, reason: choice.reason, createMs: round(threaded.createMs), probeMs: round(choice.probeMs) },
      'ONNX session placed',
    );
    if (key !== undefined) remember(key, choice.isolation);
    if (choice.isolation === 'thread') return threaded;
    // Within the turn, so that the next probe finds this thread spare.
    await threaded.recycle();
  } finally {
    done();
  }
  if (options.signal?.aborted === true) throw new Error('The load missed its deadline');
  return createInThread(model, sessionOptions);
}

/**
 * Where `auto` placed a model file before, so that loading it again (a gateway that unloads and
 * reloads models on demand) skips the probe thread, which costs far more than loading a small
 * model. Keyed by the file's path, size and modification time and the session options; bounded.
 */
const PLACED = new Map<string, 'none' | 'thread'>();
const MAX_PLACED = 4096;

async function placementKey(model: SessionModel, sessionOptions: Ort.InferenceSession.SessionOptions): Promise<string | undefined> {
  if (!('path' in model)) return undefined;
  try {
    const s = await stat(model.path);
    return `${model.path}\0${s.size}\0${s.mtimeMs}\0${JSON.stringify(sessionOptions)}`;
  } catch {
    return undefined;
  }
}

function remember(key: string, isolation: 'none' | 'thread'): void {
  if (PLACED.size >= MAX_PLACED) PLACED.delete(PLACED.keys().next().value as string);
  PLACED.set(key, isolation);
}

const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 1000) / 1000);
