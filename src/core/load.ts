/**
 * A model directory to a servable model: the flavour loads it, its schemas are compiled, its
 * serving example is scored once (a model whose example does not score is refused), all within
 * the load deadline.
 */
import { readFile } from 'node:fs/promises';
import { GatewayError, ModelExecutionError, describeError, isGatewayError } from '../errors.js';
import { LIMIT_DEFAULTS } from '../limits.js';
import type { FlavorLoadOptions, LoadedModel } from '../flavors/index.js';
import { pathInside } from '../model/paths.js';
import type { ModelRef } from '../model/ref.js';
import { lazyModelAjv } from '../schema/ajv.js';
import { compileEnforcer } from '../schema/enforce.js';
import { compileParams } from '../schema/params.js';
import type { ModelSignature } from '../schema/signature.js';
import { parseJsonText } from '../util/json-parse.js';
import { type Logger, silentLogger } from '../util/log.js';
import { type BatchObserver, type BatchOptions, Batcher } from './batcher.js';
import type { ModelDir } from './model-dir.js';
import { scoreBody } from './scoring.js';
import type { ServableModel, ServingExample } from './servable.js';

/** Batching needs every input to have a variable first dimension (or rows, for columns). */
function hasBatchDimension(sig: ModelSignature | undefined): boolean {
  const inputs = sig?.inputs;
  if (inputs === undefined) return false;
  if (inputs.kind === 'columns') return true;
  return inputs.inputs.every((t) => t.shape.length > 0 && t.shape[0] === -1);
}

/**
 * The batching options for one model: the MLmodel's `metadata.modelgate.max_batch_size` /
 * `batch_wait_ms` if it sets them (the only way to batch user code), else the server's for
 * models whose predict is row-independent.
 */
function batchingFor(md: ModelDir, model: LoadedModel, options: LoadOptions): BatchOptions | undefined {
  const meta = (md.mlmodel.raw.metadata as { modelgate?: { max_batch_size?: unknown; batch_wait_ms?: unknown } } | undefined)?.modelgate;
  const declared = typeof meta?.max_batch_size === 'number' ? meta.max_batch_size : undefined;
  const size = declared ?? (model.batchable === true ? options.batching?.maxBatchSize : undefined);
  const wait = typeof meta?.batch_wait_ms === 'number' ? meta.batch_wait_ms : (options.batching?.waitMs ?? 0);
  return size !== undefined && size > 1 ? { maxBatchSize: size, waitMs: wait } : undefined;
}

export interface LoadOptions {
  logger?: Logger;
  flavor?: FlavorLoadOptions;
  /**
   * Adaptive batching for models whose signature has a batch dimension; the MLmodel's
   * `metadata.modelgate.max_batch_size` / `batch_wait_ms` override it per model.
   */
  batching?: BatchOptions;
  /** Where a model's batch sizes and queue waits are reported. */
  batchObserver?: (ref: ModelRef) => BatchObserver;
  /** Score the input example once after loading (fails the load if it does not score). @default true */
  warmup?: boolean;
  /** Milliseconds the load and warm-up may take; 0 = no deadline. @default 300000 */
  loadTimeoutMs?: number;
}

/** The serving example MLflow wrote, or one built from `input_example.json` as MLflow would build it. */
export async function readServingExample(md: ModelDir): Promise<ServingExample | undefined> {
  const info = md.mlmodel.inputExample;
  const json = (body: string): ServingExample => ({ contentType: 'application/json', body });
  const read = (p: string, what: string) => readFile(pathInside(md.path, md.path, p, what), 'utf8');
  if (info?.servingInputPath) return json(await read(info.servingInputPath, 'The serving input example'));
  if (info?.artifactPath) {
    const text = await read(info.artifactPath, 'The input example');
    if (info.type === 'dataframe') return json(`{"dataframe_split": ${text}}`);
    let parsed: unknown;
    try {
      parsed = parseJsonText(text);
    } catch (err) {
      // The parser's message names a position, never the file's text.
      throw new GatewayError('INVALID_PARAMETER_VALUE', `The input example ${info.artifactPath} is not valid JSON: ${describeError(err)}`);
    }
    // An example saved with params is already {"inputs": …, "params": …}.
    if (typeof parsed === 'object' && parsed !== null && 'inputs' in parsed) return json(text);
    return json(`{"inputs": ${text}}`);
  }
  return undefined;
}

/**
 * Loads a model directory and scores its serving example, within the load deadline. A load that
 * misses it is told to stop (flavours that can, like a JS model's thread, do) and is unloaded
 * if it ever finishes.
 */
export function loadServable(md: ModelDir, ref: ModelRef, options: LoadOptions = {}): Promise<ServableModel> {
  const timeoutMs = options.loadTimeoutMs ?? LIMIT_DEFAULTS.loadTimeoutSeconds * 1000;
  const abort = new AbortController();
  const work = loadAndWarm(md, ref, options, abort.signal);
  if (timeoutMs <= 0) return work;
  return new Promise<ServableModel>((resolve, reject) => {
    const timer = setTimeout(() => {
      abort.abort();
      void work.then((s) => s.model.unload()).catch(() => undefined);
      reject(
        new GatewayError('DEADLINE_EXCEEDED', `Loading ${ref.name} version ${ref.version} did not finish within ${timeoutMs / 1000} s.`),
      );
    }, timeoutMs);
    timer.unref();
    work.then(
      (s) => {
        clearTimeout(timer);
        resolve(s);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

async function loadAndWarm(md: ModelDir, ref: ModelRef, options: LoadOptions, signal: AbortSignal): Promise<ServableModel> {
  const logger = options.logger ?? silentLogger();
  const started = process.hrtime.bigint();
  const config = md.mlmodel.flavors[md.flavor.name] ?? {};
  let model: LoadedModel;
  try {
    model = await md.flavor.load({ dir: md.path, mlmodel: md.mlmodel, config, logger, options: options.flavor ?? {}, signal });
  } catch (err) {
    if (isGatewayError(err)) throw err;
    throw new GatewayError('INVALID_PARAMETER_VALUE', `The ${md.flavor.name} flavour cannot load the model: ${describeError(err)}`, {
      cause: err,
    });
  }
  // Past the deadline during the warm-up, the loaded model goes at once (a JS model's thread with it).
  const unloadOnAbort = () => void model.unload().catch(() => undefined);
  signal.addEventListener('abort', unloadOnAbort, { once: true });
  try {
    const signature = model.signature;
    const schemas = lazyModelAjv();
    const servable: ServableModel = {
      ref,
      flavor: md.flavor.name,
      dir: md.path,
      model,
      signature,
      example: await readServingExample(md),
      loadSeconds: 0,
      enforcer: signature?.inputs ? compileEnforcer(signature.inputs, schemas) : undefined,
      params: compileParams(signature?.params, schemas),
    };
    if (options.warmup !== false && servable.example !== undefined) {
      try {
        await scoreBody(servable, servable.example.contentType, servable.example.body, { logger });
      } catch (err) {
        const reason = describeError(err instanceof ModelExecutionError ? err.cause : err);
        throw new GatewayError('INVALID_PARAMETER_VALUE', `The model's serving input example does not score: ${reason}`, { cause: err });
      }
    }
    const loadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const batching = hasBatchDimension(servable.signature) ? batchingFor(md, model, options) : undefined;
    const batcher = batching === undefined ? undefined : new Batcher(model, batching, logger, options.batchObserver?.(ref));
    logger.info(
      {
        model: ref.name,
        version: ref.version,
        flavor: md.flavor.name,
        ...model.info,
        loadSeconds,
        maxBatchSize: batching?.maxBatchSize ?? 1,
      },
      'model loaded',
    );
    signal.removeEventListener('abort', unloadOnAbort);
    return { ...servable, loadSeconds, ...(batcher === undefined ? {} : { batcher }) };
  } catch (err) {
    signal.removeEventListener('abort', unloadOnAbort);
    await model.unload().catch(() => undefined);
    throw err;
  }
}
