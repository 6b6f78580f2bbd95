import { Ajv } from 'ajv';

/**
 * The process's one Ajv instance. Schemas are compiled when a model loads and kept with the
 * loaded model, never per request; `allErrors` stays off so hostile input cannot make
 * validation expensive.
 */
export const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: false, coerceTypes: false });
