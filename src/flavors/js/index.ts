/**
 * JS-code models, our equivalent of MLflow's python_function models: a directory with an ES
 * module exporting `load(context)`, which returns an object with `predict(input, params)` (sync
 * or async) and optionally `unload()`. State saved with `v8.serialize` (Node's structured-clone
 * format: our pickle) and named artifact files are handed to `load` through the context.
 *
 * Importing the module runs its code with the server's rights, exactly as unpickling does in
 * Python. So it is only ever imported from a directory whose files the registry has verified
 * against the digests recorded at registration (`models:/…`), or from a path the operator gave
 * explicitly; and every path the MLmodel names must stay inside the model directory.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { GatewayError } from '../../errors.js';
import type { ModelInput, ModelOutput, Params } from '../../schema/model-io.js';
import { type ModelSignature, schemaToJson } from '../../schema/signature.js';
import type { Logger } from '../../util/log.js';
import { LIMIT_DEFAULTS } from '../../limits.js';
import { type Flavor, type FlavorLoadContext, type LoadedModel } from '../flavor.js';
import { pathInside } from '../../model/paths.js';
import type { JsLoadPlan } from './instantiate.js';
import { encodeJsResult } from './encode.js';
import { inputToPlain } from './plain.js';
import { ThreadedJsModel, instantiateHere } from './thread.js';
import { type SaveJsModelOptions, saveJs } from './save.js';

export { encodeJsResult } from './encode.js';
export { frameToRecords, inputToPlain, ndarrayToPlain } from './plain.js';

/** The signature as MLflow writes it in MLmodel (each part a list of spec objects). */
export interface JsModelSignature {
  readonly inputs?: unknown[];
  readonly outputs?: unknown[];
  readonly params?: unknown[];
}

/** What `load(context)` receives. */
export interface JsModelContext {
  /** The value saved as the model's state (`v8.deserialize` of state.bin), or undefined. */
  readonly state: unknown;
  /** Artifact name → absolute path of the file or directory. */
  readonly artifacts: Readonly<Record<string, string>>;
  /** The model's signature, or undefined when it has none. */
  readonly signature: JsModelSignature | undefined;
  /** Absolute path of the model directory. */
  readonly modelDir: string;
  /** The server's logger; what the model logs is tagged with `model_code: true`. */
  readonly logger: Logger;
}

/** What `load` returns. */
export interface JsModel {
  /**
   * `input` is plain JavaScript (see plain.ts): nested arrays for tensors, an object of them for
   * named tensors, row objects for a DataFrame. `params` are the request's params with the
   * signature's defaults filled in. Return any JSON-like value.
   */
  predict(input: unknown, params: Readonly<Record<string, unknown>>): unknown;
  unload?(): unknown;
}

/** The module a JS model directory holds. */
export interface JsModelModule {
  load(context: JsModelContext): JsModel | Promise<JsModel>;
}

function signatureJson(sig: ModelSignature | undefined): JsModelSignature | undefined {
  if (sig === undefined) return undefined;
  return {
    ...(sig.inputs ? { inputs: schemaToJson(sig.inputs) } : {}),
    ...(sig.outputs ? { outputs: schemaToJson(sig.outputs) } : {}),
    ...(sig.params ? { params: sig.params.map((p) => ({ name: p.name, type: p.type, default: p.default, shape: p.shape })) } : {}),
  };
}

/** A JS model running in the server's thread (`jsIsolation: 'none'`). */
class JsLoadedModel implements LoadedModel {
  readonly info: Record<string, string>;

  constructor(
    private readonly impl: JsModel,
    readonly signature: ModelSignature | undefined,
    module: string,
    private readonly maxResponseBytes: number,
  ) {
    this.info = { runtime: 'node', runtimeVersion: process.versions.node, module, isolation: 'none' };
  }

  async predict(input: ModelInput, params: Params): Promise<ModelOutput> {
    // Errors thrown here are the model's: the dataplane turns them into a 500 with a request id.
    const out: unknown = await this.impl.predict(inputToPlain(input), params);
    return { kind: 'encoded', text: encodeJsResult(out, this.maxResponseBytes) };
  }

  async unload(): Promise<void> {
    await this.impl.unload?.();
  }
}

async function readArtifacts(dir: string, raw: unknown): Promise<Record<string, string>> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', 'MLmodel: flavors.js.artifacts must map names to relative paths');
  }
  const out: Record<string, string> = {};
  for (const [name, rel] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof rel !== 'string') throw new GatewayError('INVALID_PARAMETER_VALUE', `MLmodel: artifact '${name}' must be a relative path`);
    const abs = pathInside(dir, dir, rel, `Artifact '${name}'`);
    if ((await stat(abs).catch(() => undefined)) === undefined) {
      throw new GatewayError('INVALID_PARAMETER_VALUE', `Artifact '${name}' (${rel}) is missing from the model directory`);
    }
    out[name] = abs;
  }
  return out;
}

export const jsFlavor: Flavor = {
  name: 'js',
  save: (dir, options) => saveJs(dir, options as SaveJsModelOptions),

  canLoad(mlmodel) {
    return 'js' in mlmodel.flavors;
  },

  async load(ctx: FlavorLoadContext) {
    const config = ctx.mlmodel.flavors.js ?? {};
    if (typeof config.module !== 'string') {
      throw new GatewayError('INVALID_PARAMETER_VALUE', "MLmodel: flavors.js.module must name the model's ES module file");
    }
    const modulePath = pathInside(ctx.dir, ctx.dir, config.module, 'Module');
    const artifacts = await readArtifacts(ctx.dir, config.artifacts);
    const statePath = typeof config.state === 'string' ? pathInside(ctx.dir, ctx.dir, config.state, 'State file') : undefined;
    // The query makes a changed file a new module instance; identical code shares one (ESM caches by URL).
    const digest = createHash('sha256')
      .update(await readFile(modulePath))
      .digest('hex');
    const signature = ctx.mlmodel.signature;
    const maxResponseBytes = ctx.options.maxResponseBytes ?? LIMIT_DEFAULTS.maxResponseBytes;
    const plan: JsLoadPlan = {
      moduleUrl: `${pathToFileURL(modulePath).href}?sha256=${digest}`,
      moduleName: config.module,
      ...(statePath === undefined ? {} : { statePath }),
      artifacts,
      signature: signatureJson(signature),
      modelDir: ctx.dir,
    };
    if ((ctx.options.jsIsolation ?? 'thread') === 'thread') {
      return ThreadedJsModel.start(
        plan,
        signature,
        { callTimeoutMs: ctx.options.callTimeoutMs ?? 60_000, maxResponseBytes, logger: ctx.logger },
        ctx.signal,
      );
    }
    const impl = await instantiateHere(plan, ctx.logger.child({ model_code: true }));
    return new JsLoadedModel(impl, signature, config.module, maxResponseBytes);
  },
};

export type { SaveJsModelOptions } from './save.js';
