/**
 * What a flavour receives and returns: MLflow's pyfunc input kinds (ndarray, dict of ndarrays,
 * DataFrame) and the same kinds plus plain JSON on the way out. Protocol-neutral: codecs build
 * these from the wire, flavours never see HTTP.
 */
import { parseJsonText } from '../util/json-parse.js';
import type { NDArray } from './ndarray.js';

/** Column-major table; each column is a 1-D NDArray (dtype `object` until a schema types it). */
export interface DataFrame {
  readonly columns: readonly (string | number)[];
  readonly values: readonly NDArray[];
  readonly rows: number;
}

export type ModelInput =
  | { readonly kind: 'tensor'; readonly value: NDArray }
  | { readonly kind: 'tensors'; readonly value: Readonly<Record<string, NDArray>> }
  | { readonly kind: 'dataframe'; readonly value: DataFrame }
  /** An LLM-style body (`messages`, `prompt`, `input`) passed through as parsed JSON. */
  | { readonly kind: 'json'; readonly value: unknown };

/**
 * A result already written as JSON text where it was computed (a JS model's thread), so the
 * server's thread does not walk it again; `text` is what `{"predictions": …}` wraps.
 */
export interface EncodedOutput {
  readonly kind: 'encoded';
  readonly text: string;
}

export type ModelOutput = ModelInput | EncodedOutput;

/** An output as a value, for the callers that need its structure (V2 tensors, splitting a batch). */
export function decodedOutput(output: ModelOutput): ModelInput {
  return output.kind === 'encoded' ? { kind: 'json', value: parseJsonText(output.text) } : output;
}

export type Params = Readonly<Record<string, unknown>>;

export function objectColumn(values: unknown[]): NDArray {
  return { dtype: 'object', shape: [values.length], data: values };
}

export function columnIndex(df: DataFrame, name: string | number): number {
  return df.columns.indexOf(name);
}
