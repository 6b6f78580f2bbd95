import type { ModelInput } from '../../schema/model-io.js';
import type { Schema } from '../../schema/signature.js';

/** A request body turned into what a model takes. */
export interface DecodedRequest {
  readonly input: ModelInput;
  /**
   * The body's `params` as sent (undefined when absent or null). Not checked here: MLflow ignores
   * a `params` that is not a dictionary for a model without a params schema and refuses it for
   * one with a schema, which the model's params enforcer knows.
   */
  readonly params: unknown;
  /**
   * True for MLflow's unified LLM bodies (`messages`, `prompt`, `input`): their result is returned
   * as it is, not wrapped in `{"predictions": …}`.
   */
  readonly unwrapped: boolean;
}

export interface DecodeLimits {
  /** Deepest nesting of arrays and objects accepted in a JSON body. */
  maxJsonDepth?: number;
  /** Most rows; a format that knows its row count before decoding (parquet) refuses more at once. */
  maxRows?: number;
}

/** One text body format of `/invocations`, chosen by the request's mime type. */
export interface BodyCodec {
  readonly mimeType: string;
  readonly binary?: false;
  decode(body: string, schema: Schema | undefined, limits?: DecodeLimits): DecodedRequest;
}

/** A body format read from the raw bytes (parquet), whose decoder loads on first use. */
export interface BinaryBodyCodec {
  readonly mimeType: string;
  readonly binary: true;
  decode(body: Uint8Array, schema: Schema | undefined, limits?: DecodeLimits): Promise<DecodedRequest>;
}

export type AnyBodyCodec = BodyCodec | BinaryBodyCodec;

/**
 * One top-level key of a JSON body (`inputs`, `instances`, `dataframe_split`,
 * `dataframe_records`). Parse-time casts to the signature's types happen here, as in MLflow.
 */
export interface JsonFormatCodec {
  readonly key: string;
  decode(value: unknown, schema: Schema | undefined): ModelInput;
}
