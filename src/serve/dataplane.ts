/**
 * The protocol-neutral core: load a model directory into something servable, and score a request
 * body with it (decode → enforce schema → params → predict → encode). The HTTP route, the
 * `predict` CLI and registration-time validation all go through here, so they agree exactly.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayError, ModelExecutionError, describeError, isGatewayError } from '../errors.js';
import type { FlavorLoadOptions, LoadedModel } from '../flavors/index.js';
import type { ModelDir } from '../model/model-dir.js';
import { type SchemaEnforcer, compileEnforcer } from '../schema/enforce.js';
import type { ModelInput } from '../schema/model-io.js';
import { type ParamsEnforcer, compileParams } from '../schema/params.js';
import type { ModelSignature } from '../schema/signature.js';
import { type Logger, silentLogger } from '../util/log.js';
import { type DecodedRequest, codecFor } from './codecs/index.js';
import { encodePredictions } from './codecs/response.js';

/** Which registered model version this is; the labels of every metric about it. */
export interface ModelRef {
  readonly name: string;
  readonly version: string;
}

export interface ServingExample {
  readonly contentType: string;
  readonly body: string;
}

export interface ServableModel {
  readonly ref: ModelRef;
  readonly flavor: string;
  readonly dir: string;
  readonly model: LoadedModel;
  readonly signature: ModelSignature | undefined;
  readonly example: ServingExample | undefined;
  /** Seconds from the start of loading to the end of the warm-up request. */
  readonly loadSeconds: number;
  readonly enforcer: SchemaEnforcer | undefined;
  readonly params: ParamsEnforcer;
}

export interface LoadOptions {
  logger?: Logger;
  flavor?: FlavorLoadOptions;
  /** Score the input example once after loading (fails the load if it does not score). @default true */
  warmup?: boolean;
}

/** The serving example MLflow wrote, or one built from `input_example.json` as MLflow would build it. */
export async function readServingExample(md: ModelDir): Promise<ServingExample | undefined> {
  const info = md.mlmodel.inputExample;
  const json = (body: string): ServingExample => ({ contentType: 'application/json', body });
  const read = (p: string) => readFile(join(md.path, p), 'utf8');
  if (info?.servingInputPath) return json(await read(info.servingInputPath));
  if (info?.artifactPath) {
    const text = await read(info.artifactPath);
    if (info.type === 'dataframe') return json(`{"dataframe_split": ${text}}`);
    const parsed = JSON.parse(text) as unknown;
    // An example saved with params is already {"inputs": …, "params": …}.
    if (typeof parsed === 'object' && parsed !== null && 'inputs' in parsed) return json(text);
    return json(`{"inputs": ${text}}`);
  }
  return undefined;
}

export async function loadServable(md: ModelDir, ref: ModelRef, options: LoadOptions = {}): Promise<ServableModel> {
  const logger = options.logger ?? silentLogger();
  const started = process.hrtime.bigint();
  const config = md.mlmodel.flavors[md.flavor.name] ?? {};
  let model: LoadedModel;
  try {
    model = await md.flavor.load({ dir: md.path, mlmodel: md.mlmodel, config, logger, options: options.flavor ?? {} });
  } catch (err) {
    if (isGatewayError(err)) throw err;
    throw new GatewayError('INVALID_PARAMETER_VALUE', `The ${md.flavor.name} flavour cannot load the model: ${describeError(err)}`, {
      cause: err,
    });
  }
  try {
    const signature = model.signature;
    const servable: ServableModel = {
      ref,
      flavor: md.flavor.name,
      dir: md.path,
      model,
      signature,
      example: await readServingExample(md),
      loadSeconds: 0,
      enforcer: signature?.inputs ? compileEnforcer(signature.inputs) : undefined,
      params: compileParams(signature?.params),
    };
    if (options.warmup !== false && servable.example !== undefined) {
      try {
        await scoreBody(servable, servable.example.contentType, servable.example.body, logger);
      } catch (err) {
        const reason = describeError(err instanceof ModelExecutionError ? err.cause : err);
        throw new GatewayError('INVALID_PARAMETER_VALUE', `The model's serving input example does not score: ${reason}`, { cause: err });
      }
    }
    const loadSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    logger.info({ model: ref.name, version: ref.version, flavor: md.flavor.name, ...model.info, loadSeconds }, 'model loaded');
    return { ...servable, loadSeconds };
  } catch (err) {
    await model.unload().catch(() => undefined);
    throw err;
  }
}

/** Runs enforcement, params and the model on a decoded request; returns the JSON body text. */
export async function score(
  servable: ServableModel,
  request: DecodedRequest,
  logger?: Logger,
  onPredict?: (seconds: number) => void,
): Promise<string> {
  const input: ModelInput =
    servable.enforcer !== undefined && request.input.kind !== 'json' ? servable.enforcer.enforce(request.input) : request.input;
  const { params, ignored } = servable.params.resolve(request.params);
  if (ignored.length > 0) {
    logger?.warn({ model: servable.ref.name, params: ignored }, 'params not declared in the model signature were ignored');
  }
  let output;
  const started = performance.now();
  try {
    output = await servable.model.predict(input, params);
    onPredict?.((performance.now() - started) / 1000);
  } catch (err) {
    if (isGatewayError(err) && err.status < 500) throw err;
    throw new ModelExecutionError(err);
  }
  try {
    return encodePredictions(output, request.unwrapped);
  } catch (err) {
    throw new ModelExecutionError(err);
  }
}

/** Decodes a body by its content type (MLflow's rules) and scores it. */
export async function scoreBody(
  servable: ServableModel,
  contentType: string | null | undefined,
  body: string,
  logger?: Logger,
  onPredict?: (seconds: number) => void,
): Promise<string> {
  const request = codecFor(contentType).decode(body, servable.signature?.inputs);
  return score(servable, request, logger, onPredict);
}
