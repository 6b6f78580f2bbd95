/**
 * The wire-protocol plug-in point. A protocol turns a request body into what a model takes and a
 * model's output into the answer's text; the core scores every protocol alike (limits, schema
 * enforcement, params, batching, the response limit), so they validate and predict identically.
 * Protocols know nothing of HTTP: a protocol is one folder here, with its routes in src/http/routes/.
 */
import type { GatewayError } from '../errors.js';
import type { ModelRef } from '../model/ref.js';
import type { ModelOutput } from '../schema/model-io.js';
import type { ModelSignature } from '../schema/signature.js';
import type { DecodeLimits, DecodedRequest } from './mlflow/codec.js';

/** What a protocol knows of the model a request goes to. */
export interface ProtocolModel {
  readonly ref: ModelRef;
  readonly signature: ModelSignature | undefined;
}

/** One decoded request, holding what its answer needs (the request's id, the outputs it asked for). */
export interface WireRequest {
  readonly request: DecodedRequest;
  /** The answer's text; stops as soon as the text passes `limit` (the writers throw TextLimitError). */
  encode(output: ModelOutput, limit: number): string;
}

export interface WireProtocol {
  readonly name: string;
  /** Decodes a body; whatever it throws is about the caller's input. */
  decode(
    body: string | Uint8Array,
    contentType: string | undefined | null,
    model: ProtocolModel,
    limits: Required<DecodeLimits>,
  ): WireRequest | Promise<WireRequest>;
  /** The protocol's error body. `requestId` is how a server fault is found in the log. */
  errorBody(err: GatewayError, requestId: string): string;
}
