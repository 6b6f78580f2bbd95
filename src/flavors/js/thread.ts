/**
 * A JS model in its own worker thread, so that user code which blocks (a synchronous endless
 * loop), calls `process.exit`, or throws outside `predict` costs the calls in progress on that
 * model, not the server. A call that outlives the watchdog restarts the thread; a thread that
 * dies is restarted, and the calls it held get a 500.
 *
 * The thread is started from source text (`eval: true`) rather than a file, so it works the same
 * from the TypeScript sources, the compiled tree and the one-file bundle.
 */
import { createRequire } from 'node:module';
import type * as workerThreads from 'node:worker_threads';
import { Worker } from 'node:worker_threads';
import { DeadlineExceededError } from '../../errors.js';
import type { ModelInput, ModelOutput, Params } from '../../schema/model-io.js';
import type { ModelSignature } from '../../schema/signature.js';
import type { Logger } from '../../util/log.js';
import type { LoadedModel } from '../flavor.js';
import { type ImportModule, type JsLoadPlan, instantiate } from './instantiate.js';
import { encodeJsResult } from './encode.js';
import { inputToPlain } from './plain.js';

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

type FromThread =
  | { type: 'ready' }
  | { type: 'load-error'; error: SerializedError }
  | { type: 'result'; id: number; text: string }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'log'; level: string; bindings: Record<string, unknown>; args: unknown[] }
  | { type: 'unloaded' };

type ToThread = { type: 'predict'; id: number; input: unknown; params: Params } | { type: 'unload' };

/** The thread's main function. Self-contained: it is started from its source text. */
function threadMain(
  require: (id: string) => unknown,
  importModule: ImportModule,
  instantiateFn: typeof instantiate,
  encode: typeof encodeJsResult,
): void {
  const { parentPort, workerData } = require('node:worker_threads') as typeof workerThreads;
  const { plan, maxResponseBytes } = workerData as { plan: JsLoadPlan; maxResponseBytes: number };
  const port = parentPort!;
  const post = (m: FromThread) => port.postMessage(m);
  const serialize = (e: unknown): SerializedError =>
    e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : { name: 'Error', message: String(e) };
  const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  const logger = (bindings: Record<string, unknown>): Record<string, unknown> => {
    const l: Record<string, unknown> = { child: (b: Record<string, unknown>) => logger({ ...bindings, ...b }) };
    for (const level of LEVELS) {
      l[level] = (...args: unknown[]) => {
        try {
          post({ type: 'log', level, bindings, args });
        } catch {
          post({ type: 'log', level, bindings, args: args.map((a) => String(a)) });
        }
      };
    }
    return l;
  };
  let impl: { predict(input: unknown, params: unknown): unknown; unload?(): unknown } | undefined;
  port.on('message', (m: ToThread) => {
    if (m.type === 'unload') {
      Promise.resolve()
        .then(() => impl?.unload?.())
        .catch((e: unknown) => post({ type: 'log', level: 'error', bindings: {}, args: [{ err: serialize(e) }, 'unload() failed'] }))
        .finally(() => post({ type: 'unloaded' }));
      return;
    }
    // The result is written as JSON here, so however large it is, the server's thread only
    // receives one string.
    Promise.resolve()
      .then(() => impl!.predict(m.input, m.params))
      .then((value) => encode(value, maxResponseBytes))
      .then(
        (text) => post({ type: 'result', id: m.id, text }),
        (e: unknown) => post({ type: 'error', id: m.id, error: serialize(e) }),
      );
  });
  instantiateFn(plan, logger({}), importModule, require).then(
    (m) => {
      impl = m;
      post({ type: 'ready' });
    },
    (e: unknown) => post({ type: 'load-error', error: serialize(e) }),
  );
}

// `import()` is written in this string, not in module code, so no bundler or test runner rewrites it.
// Node reads the source as CommonJS or as an ES module depending on the process's flags
// (`--input-type`), so builtins come from `process.getBuiltinModule`, never a `require` that an
// ES module lacks.
const THREAD_SOURCE = `'use strict';
(${threadMain.toString()})(process.getBuiltinModule, (url) => import(url), ${instantiate.toString()}, ${encodeJsResult.toString()});
`;

/** Rebuilds a thread's error here; the stack (the user's frames) goes to the log, never to a client. */
function revive(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

interface Pending {
  resolve(text: string): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface ThreadOptions {
  /** A predict call running longer than this restarts the thread. */
  callTimeoutMs: number;
  /** The largest result, as JSON text. */
  maxResponseBytes: number;
  logger: Logger;
}

/** Runs `instantiate` in the server's thread, for `isolation: 'none'`. */
export function instantiateHere(plan: JsLoadPlan, logger: Logger): ReturnType<typeof instantiate> {
  return instantiate(plan, logger, (url) => import(url), createRequire(import.meta.url));
}

/** Least time between two restarts of a thread whose model keeps failing to load. */
const RESTART_BACKOFF_MS = 1000;
const UNLOAD_TIMEOUT_MS = 5000;

export class ThreadedJsModel implements LoadedModel {
  readonly info: Record<string, string>;
  private worker: Worker | undefined;
  private ready: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing = false;
  private lastStart = 0;
  private readonly modelLogger: Logger;
  private onUnloaded: (() => void) | undefined;

  private constructor(
    private readonly plan: JsLoadPlan,
    readonly signature: ModelSignature | undefined,
    private readonly options: ThreadOptions,
  ) {
    this.info = { runtime: 'node', runtimeVersion: process.versions.node, module: plan.moduleName, isolation: 'thread' };
    this.modelLogger = options.logger.child({ model_code: true });
    this.ready = this.start();
  }

  /** Starts the thread and waits for `load(context)`; rejects with the model's own load error. */
  static async start(
    plan: JsLoadPlan,
    signature: ModelSignature | undefined,
    options: ThreadOptions,
    signal?: AbortSignal,
  ): Promise<ThreadedJsModel> {
    const model = new ThreadedJsModel(plan, signature, options);
    // A load past its deadline stops the thread, even one stuck in a synchronous loop.
    const onAbort = () => model.stopLoading();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await model.ready;
    } catch (err) {
      await model.unload();
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return model;
  }

  /** Ends a load that missed its deadline at once (the model's own unload() may be stuck with it). */
  private stopLoading(): void {
    this.closing = true;
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
  }

  private start(): Promise<void> {
    this.lastStart = Date.now();
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { plan: this.plan, maxResponseBytes: this.options.maxResponseBytes },
    });
    this.worker = worker;
    let loaded = false;
    let lastError: Error | undefined;
    return new Promise<void>((resolve, reject) => {
      const loadFailed = (err: Error) => {
        if (this.worker === worker) this.worker = undefined;
        void worker.terminate();
        reject(err);
      };
      worker.on('message', (m: FromThread) => {
        switch (m.type) {
          case 'ready':
            loaded = true;
            return resolve();
          case 'load-error':
            return loadFailed(revive(m.error));
          case 'result':
          case 'error': {
            const p = this.pending.get(m.id);
            if (p === undefined) return; // already failed by the watchdog
            this.pending.delete(m.id);
            clearTimeout(p.timer);
            return m.type === 'result' ? p.resolve(m.text) : p.reject(revive(m.error));
          }
          case 'log':
            return this.log(m.level, m.bindings, m.args);
          case 'unloaded':
            return this.onUnloaded?.();
        }
      });
      // An uncaught exception in the thread: 'exit' follows.
      worker.on('error', (err) => {
        lastError = err;
        this.options.logger.error({ err, module: this.plan.moduleName }, 'JS model thread crashed');
      });
      worker.on('exit', (code) => {
        const why = new Error(`The model's thread stopped (exit code ${code})${lastError ? `: ${lastError.message}` : ''}`);
        if (!loaded) return loadFailed(why);
        if (this.worker === worker && !this.closing) this.fail(why);
      });
    });
  }

  private log(level: string, bindings: Record<string, unknown>, args: unknown[]): void {
    const target = Object.keys(bindings).length === 0 ? this.modelLogger : this.modelLogger.child(bindings);
    const fn = (target as unknown as Record<string, unknown>)[level];
    if (typeof fn === 'function') (fn as (...a: unknown[]) => void).apply(target, args);
  }

  /** Fails every call the thread holds and starts a new one. */
  private fail(reason: Error): void {
    const worker = this.worker;
    this.worker = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
    if (worker !== undefined) void worker.terminate();
    if (this.closing) return;
    this.options.logger.error({ module: this.plan.moduleName, reason: reason.message }, 'restarting the JS model thread');
    this.ready = this.start();
    this.ready.catch((err: unknown) => this.options.logger.error({ err, module: this.plan.moduleName }, 'the JS model did not load again'));
  }

  private async running(): Promise<Worker> {
    try {
      await this.ready;
    } catch (err) {
      // The last restart could not load the model; try again, but not in a tight loop.
      if (this.closing || Date.now() - this.lastStart < RESTART_BACKOFF_MS) throw err;
      this.ready = this.start();
      await this.ready;
    }
    if (this.worker === undefined) throw new Error('The JS model is unloaded');
    return this.worker;
  }

  async predict(input: ModelInput, params: Params): Promise<ModelOutput> {
    const worker = await this.running();
    const id = this.nextId++;
    const message: ToThread = { type: 'predict', id, input: inputToPlain(input), params };
    const text = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        // This call is the request that timed out (504); the others the thread held are collateral (500).
        this.pending.delete(id);
        reject(new DeadlineExceededError(this.options.callTimeoutMs / 1000));
        this.fail(new Error(`A predict call did not finish within ${this.options.callTimeoutMs} ms; the model's thread was restarted`));
      }, this.options.callTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage(message);
    });
    return { kind: 'encoded', text };
  }

  async unload(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    if (worker === undefined) return;
    // The model's own unload() gets a few seconds; then the thread goes regardless.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, UNLOAD_TIMEOUT_MS);
      this.onUnloaded = () => (clearTimeout(timer), resolve());
      worker.once('exit', this.onUnloaded);
      worker.postMessage({ type: 'unload' } satisfies ToThread);
    });
    this.fail(new Error('The JS model is unloaded'));
    await worker.terminate();
  }
}
