/**
 * Validators for the custom resources the manifests include (ServiceMonitor, ScaledObject, PrometheusRule), from
 * the CRDs' published OpenAPI schemas committed in crds/ (where each comes from is in its
 * `$comment`). The API server rejects unknown fields under strict field validation (kubectl's
 * default since 1.27), and a CRD schema does not say `additionalProperties: false`, so every
 * object with listed properties gets it here: a misspelt field fails as it would on apply.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';

type Schema = Record<string, unknown>;

function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' ? mapValues(v as Schema, strict) : strict(v);
  if ('properties' in out && !('additionalProperties' in out) && out['x-kubernetes-preserve-unknown-fields'] !== true)
    out.additionalProperties = false;
  return out;
}

const mapValues = (o: Schema, f: (v: unknown) => unknown): Schema => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));

function ajv(): Ajv {
  const a = new Ajv({ allErrors: true });
  // OpenAPI extensions the API server reads; JSON Schema has no opinion on them.
  a.addVocabulary([
    'x-kubernetes-int-or-string',
    'x-kubernetes-map-type',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-preserve-unknown-fields',
  ]);
  a.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  a.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  return a;
}

function load(file: string): ValidateFunction {
  const schema = JSON.parse(readFileSync(new URL(`./crds/${file}`, import.meta.url), 'utf8')) as Schema;
  return ajv().compile(strict(schema) as Schema);
}

export const validateServiceMonitor = load('monitoring.coreos.com_servicemonitors.v1.schema.json');
export const validateScaledObject = load('keda.sh_scaledobjects.v1alpha1.schema.json');
export const validatePrometheusRule = load('monitoring.coreos.com_prometheusrules.v1.schema.json');

/** Throws with ajv's errors when `doc` does not validate. */
export function assertValid(validate: ValidateFunction, doc: unknown): void {
  if (!validate(doc)) throw new Error(`invalid: ${JSON.stringify(validate.errors)}`);
}
