import { Ajv } from 'ajv';

// allErrors stays off so hostile input cannot make validation expensive. meta/validateSchema off:
// every schema is built by our own code, so checking it against the JSON Schema meta-schema only
// costs start-up time (~12 ms).
const OPTIONS = { allErrors: false, strict: false, useDefaults: false, coerceTypes: false, meta: false, validateSchema: false } as const;

/** For the fixed schemas of our own formats (MLmodel, signatures, V2 bodies), compiled once per process. */
export const ajv = new Ajv(OPTIONS);

/**
 * An Ajv for one model version's schemas (its columns' types, its params). Ajv caches every
 * schema it compiles, forever: with one instance per version, the cache goes with the version
 * when it is unloaded instead of growing with every load.
 */
export function modelAjv(): Ajv {
  const instance = new Ajv(OPTIONS);
  instance.addKeyword({
    keyword: 'modelgateDatetime',
    type: 'string',
    validate: (_schema: unknown, data: string) => !Number.isNaN(Date.parse(data)),
    error: { message: 'must be a date-time string' },
  });
  return instance;
}

/** One model version's Ajv, made on first use (most models compile nothing). */
export type AjvSource = () => Ajv;

export function lazyModelAjv(): AjvSource {
  let instance: Ajv | undefined;
  return () => (instance ??= modelAjv());
}
