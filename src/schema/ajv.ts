import { Ajv } from 'ajv';

/**
 * The process's one Ajv instance. Schemas are compiled when a model loads and kept with the
 * loaded model, never per request; `allErrors` stays off so hostile input cannot make
 * validation expensive.
 */
// meta/validateSchema off: every schema is built by our own code, so checking it against the
// JSON Schema meta-schema only costs start-up time (~12 ms).
export const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: false, coerceTypes: false, meta: false, validateSchema: false });
