/**
 * The flavour plug-in point. A flavour turns a model directory into a {@link LoadedModel}; it
 * never sees HTTP, codecs or the registry. It also carries what the rest of modelgate needs to
 * know about it: what an image must hold for it, how `saveModel` writes it, its name in the V2
 * protocol. Adding a flavour is one folder under src/flavors/ and one line in src/flavors/index.ts.
 */
import type { MLModel } from '../model/mlmodel.js';
import type { ModelInput, ModelOutput, Params } from '../schema/model-io.js';
import type { MlflowSignatureJson, ModelSignature } from '../schema/signature.js';
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

/** What of an npm package an image needs. */
export interface PackageRule {
  /** Dependencies its run-time code never loads (used by an install script, or types only). */
  readonly notLoaded?: readonly string[];
  /**
   * Whether a file or directory (path relative to the package; directories end in `/`) is needed
   * on a Linux machine of this CPU (Node's name: x64, arm64). `main` is package.json's `main`.
   */
  readonly keep?: (path: string, arch: string, main: string | undefined) => boolean;
}

/** What an image serving this flavour's models must hold (src/docker reads it). */
export interface FlavorImage {
  /** npm packages the flavour loads at run time (lazily, in `load()`); an image carries only its model's flavour's. */
  readonly packages: readonly string[];
  /** Per package: what of it the image needs. */
  readonly packageRules?: Readonly<Record<string, PackageRule>>;
  /** The C library its native runtime is built against: a base image with another one cannot load the model. */
  readonly libc?: 'glibc';
}

/** What every `saveModel` call takes, whatever the flavour. */
export interface SaveModelCommonOptions {
  /** Our typed signature, or MLflow's JSON form (`{inputs: [{"type": "double", "name": "x"}], …}`). */
  signature?: ModelSignature | MlflowSignatureJson;
  /**
   * An example input, saved as MLflow saves one: a list of row objects is a DataFrame, another
   * list an ndarray, an object of lists a dict of named tensors, an object of scalars one row.
   */
  inputExample?: unknown;
  /** Params saved with the example (MLflow's `(input, params)` example); inferred into the signature when it declares none. */
  params?: Record<string, unknown>;
  /** Load the saved model and score its example before returning. @default true */
  validate?: boolean;
}

/**
 * `saveModel`'s options for each flavour that can save, by flavour name. A flavour adds its own
 * from its folder (`declare module '../flavor.js' { interface SaveOptionsByFlavor { … } }`).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SaveOptionsByFlavor {}

/** The MLmodel `flavors:` entries a flavour's save wrote. */
export type FlavorEntries = Record<string, Record<string, unknown>>;

export interface Flavor {
  /** Our name for it, used in logs, metrics and `flavors:` keys we write. */
  readonly name: string;
  canLoad(mlmodel: MLModel): boolean;
  load(ctx: FlavorLoadContext): Promise<LoadedModel>;
  /** Recognises a bare model directory (no MLmodel), e.g. a lone `model.onnx`. */
  detect?(dir: string): Promise<DetectedModel | undefined>;
  /** Left out, an image carries every flavour's runtime (user code may load any of them). */
  readonly image?: FlavorImage;
  /** Writes a model's files into `dir` (empty, existing) for `saveModel`; returns its MLmodel `flavors:` entries. */
  save?(dir: string, options: SaveModelCommonOptions & { flavor: string }): Promise<FlavorEntries>;
  /** The `platform` in V2 model metadata. @default `modelgate_<name>` */
  readonly v2Platform?: string;
}
