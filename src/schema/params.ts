/**
 * Inference params (`{"params": {...}}`) checked against the signature's ParamSpecs with one Ajv
 * validator per model version. Missing params take their defaults; params the signature does not
 * declare are dropped, as MLflow drops them (with a warning in the log).
 */
import { GatewayError, quoteValue } from '../errors.js';
import { setOwn } from '../util/dict.js';
import { type AjvSource, lazyModelAjv } from './ajv.js';
import { paramJsonSchema } from './json-schema.js';
import type { ParamSpec } from './signature.js';

export interface ResolvedParams {
  params: Record<string, unknown>;
  /** The names that were dropped (for a warning). */
  ignored: string[];
  /** Python's name for the type of a `params` that was not a dictionary and was dropped. */
  ignoredType?: string;
}

export interface ParamsEnforcer {
  /** The params to pass to the model, from the request's `params` as sent (undefined: none). */
  resolve(raw: unknown): ResolvedParams;
}

const pyRepr = quoteValue;

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pyTypeName(v: unknown): string {
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int';
  return typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : typeof v;
}

/**
 * MLflow's `_enforce_params_schema`: without a params schema, params are dropped with a warning,
 * even when they are not a dictionary; with one, they must be a dictionary.
 */
export function compileParams(specs: readonly ParamSpec[] | undefined, ajv: AjvSource = lazyModelAjv()): ParamsEnforcer {
  if (specs === undefined || specs.length === 0) {
    return {
      resolve: (raw) => {
        if (raw === undefined || raw === null) return { params: {}, ignored: [] };
        return isDict(raw) ? { params: {}, ignored: Object.keys(raw) } : { params: {}, ignored: [], ignoredType: pyTypeName(raw) };
      },
    };
  }
  const validators = new Map(
    specs.map((s) => {
      return [s.name, ajv().compile(paramJsonSchema(s))] as const;
    }),
  );
  const defaults = Object.fromEntries(specs.map((s) => [s.name, s.default]));
  return {
    resolve(raw) {
      const params: Record<string, unknown> = { ...defaults };
      if (raw === undefined || raw === null) return { params, ignored: [] };
      if (!isDict(raw)) {
        throw new GatewayError('INVALID_PARAMETER_VALUE', `Parameters must be a dictionary. Got type '${pyTypeName(raw)}'.`);
      }
      const invalid: string[] = [];
      const ignored: string[] = [];
      for (const [name, value] of Object.entries(raw)) {
        const validate = validators.get(name);
        if (validate === undefined) {
          ignored.push(name);
        } else if (value === null) {
          // An explicit null asks for the default.
        } else if (!validate(value)) {
          invalid.push(`${pyRepr(name)}: 'Value ${quoteValue(value)} ${ajv().errorsText(validate.errors, { dataVar: '' }).trim()}'`);
        } else {
          setOwn(params, name, value);
        }
      }
      if (invalid.length > 0) {
        throw new GatewayError('INVALID_PARAMETER_VALUE', `Invalid parameters found: {${invalid.join(', ')}}`);
      }
      return { params, ignored };
    },
  };
}
