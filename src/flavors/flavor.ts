/**
 * The flavour plug-in point. A flavour turns a model directory into a {@link LoadedModel}; it
 * never sees HTTP, codecs or the registry. Adding a flavour is one folder under src/flavors/ and
 * one line in src/flavors/index.ts.
 */
import type { MLModel } from '../model/mlmodel.js';
import type { ModelInput, ModelOutput, Params } from '../schema/model-io.js';
import type { ModelSignature } from '../schema/signature.js';
import type { Logger } from '../util/log.js';

export interface FlavorLoadOptions {
  /** Threads one inference may use inside the runtime. @default 1 */
  intraOpThreads?: number;
  /**
   * Where JS-code models run: in a worker thread of their own, so a model that blocks or exits
   * cannot take the server with it (`thread`), or in the server's thread (`none`). @default 'thread'
   */
  jsIsolation?: 'thread' | 'none';
  /**
   * Where onnxruntime sessions run: in a worker thread of their own, so a slow graph cannot stall
   * the server (`thread`), in the server's thread (`none`), or in a thread only when creating or
   * running the session is slow (`auto`, see src/flavors/onnx/runner.ts). @default 'auto'
   */
  onnxIsolation?: 'auto' | 'thread' | 'none';
  /** A JS-code model's predict call running longer than this restarts its thread. @default 60000 */
  callTimeoutMs?: number;
  /** The largest prediction, as JSON text, a model may return. @default 33554432 (32 MiB) */
  maxResponseBytes?: number;
}

export interface FlavorLoadContext {
  /** Absolute path of the model directory. */
  readonly dir: string;
  readonly mlmodel: MLModel;
  /** This flavour's entry under `flavors:` in MLmodel. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly logger: Logger;
  readonly options: FlavorLoadOptions;
  /** Aborted when the load missed its deadline: a flavour that can stop loading should (the result is discarded anyway). */
  readonly signal?: AbortSignal;
}

export interface LoadedModel {
  /** The MLmodel signature, or one the flavour inferred from the model itself. */
  readonly signature: ModelSignature | undefined;
  /** Runtime facts for logs and /metrics, e.g. `{ runtime: 'onnxruntime', version: '1.30.0' }`. */
  readonly info: Readonly<Record<string, string>>;
  /**
   * True when predict treats rows independently, so concurrent requests may be merged into one
   * call (tensor graphs). User code is not assumed to: it is batched only if its MLmodel opts in.
   */
  readonly batchable?: boolean;
  /**
   * Scores one request. Input has passed schema enforcement; errors meaning "bad input" are
   * `GatewayError`s with a 4xx code, anything else is treated as a model failure (500). The
   * input's typed arrays may be moved to the model's thread (detached): do not reuse them.
   */
  predict(input: ModelInput, params: Params): Promise<ModelOutput>;
  /** Frees native memory; the model is not used afterwards. */
  unload(): Promise<void>;
}

/** What a flavour recognises in a directory that has no MLmodel file. */
export interface DetectedModel {
  /** The `flavors:` entry to write into a generated MLmodel. */
  readonly flavors: Record<string, Record<string, unknown>>;
}

export interface Flavor {
  /** Our name for it, used in logs, metrics and `flavors:` keys we write. */
  readonly name: string;
  canLoad(mlmodel: MLModel): boolean;
  load(ctx: FlavorLoadContext): Promise<LoadedModel>;
  /** Recognises a bare model directory (no MLmodel), e.g. a lone `model.onnx`. */
  detect?(dir: string): Promise<DetectedModel | undefined>;
}
