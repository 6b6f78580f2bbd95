/**
 * Importing a JS model's module and calling its `load(context)`: the one piece of code that runs
 * both in the server's thread (`isolation: 'none'`) and inside a model thread (thread.ts), where
 * it is started from its source text. So everything here must be self-contained: no imports, no
 * outer names, only its parameters (Node's `require` for builtins, and an `import()` that the
 * caller provides because bundlers and test runners rewrite that syntax in module code).
 */
import type * as fsPromises from 'node:fs/promises';
import type * as v8 from 'node:v8';
import type { JsModel, JsModelSignature } from './index.js';

/** Everything a model thread needs to load the model: plain data, so it crosses a thread boundary. */
export interface JsLoadPlan {
  /** The module's file URL, with a query that makes a changed file a new module instance. */
  readonly moduleUrl: string;
  /** The module path as MLmodel names it, for messages. */
  readonly moduleName: string;
  readonly statePath?: string;
  readonly artifacts: Readonly<Record<string, string>>;
  readonly signature: JsModelSignature | undefined;
  readonly modelDir: string;
}

export type ImportModule = (url: string) => Promise<unknown>;
type Require = (id: string) => unknown;

export async function instantiate(plan: JsLoadPlan, logger: unknown, importModule: ImportModule, require: Require): Promise<JsModel> {
  const { readFile } = require('node:fs/promises') as typeof fsPromises;
  const { deserialize } = require('node:v8') as typeof v8;
  const state: unknown = plan.statePath === undefined ? undefined : deserialize(await readFile(plan.statePath));
  const mod = (await importModule(plan.moduleUrl)) as { load?: unknown };
  if (typeof mod.load !== 'function') throw new Error(`${plan.moduleName} does not export a load(context) function`);
  const load = mod.load as (context: unknown) => unknown;
  const impl = (await load({
    state,
    artifacts: plan.artifacts,
    signature: plan.signature,
    modelDir: plan.modelDir,
    logger,
  })) as JsModel | null;
  if (impl === null || typeof impl !== 'object' || typeof impl.predict !== 'function') {
    throw new Error(`load() in ${plan.moduleName} must return an object with a predict(input, params) method`);
  }
  return impl;
}
