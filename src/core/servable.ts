/** A model version loaded and ready to score: what the host leases and the core scores with. */
import type { LoadedModel } from '../flavors/index.js';
import type { ModelRef } from '../model/ref.js';
import type { ParamsEnforcer } from '../schema/params.js';
import type { SchemaEnforcer } from '../schema/enforce.js';
import type { ModelSignature } from '../schema/signature.js';
import type { Batcher } from './batcher.js';

export type { ModelRef } from '../model/ref.js';

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
  /** Present when requests to this model are batched. */
  readonly batcher?: Batcher;
}
