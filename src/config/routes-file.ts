/**
 * A routes file: the same settings as the serve flags, in YAML or JSON, for deployments that keep
 * routing in config (a ConfigMap, say). Flags and environment variables override it.
 *
 *   primary: models:/iris@champion
 *   canary: models:/iris@challenger
 *   canaryWeight: 10
 *   stickyHeader: x-user-id
 *   shadow: models:/iris/7
 *   shadowPercent: 5
 *   pollSeconds: 5
 *   logRequests: 5            # or per model: {iris: 100, churn: 10}
 *
 * or several models, each with routes of its own:
 *
 *   models:
 *     - primary: models:/fraud@champion
 *       canary: models:/fraud@challenger
 *       canaryWeight: 10
 *     - name: churn
 *       primary: models:/churn-v2/3
 *   pollSeconds: 5
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { ServeOptions } from './resolve.js';
import { SERVED_NAME_RE, type ServedModel } from './models.js';
import { GatewayError } from '../errors.js';
import { ajv } from '../schema/ajv.js';

const percent = { type: 'number', minimum: 0, maximum: 100 };
const routeProperties = {
  primary: { type: 'string', minLength: 1 },
  canary: { type: 'string', minLength: 1 },
  canaryWeight: percent,
  stickyHeader: { type: 'string', pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" },
  shadow: { type: 'string', minLength: 1 },
  shadowPercent: percent,
};
const validate = ajv.compile({
  type: 'object',
  oneOf: [{ required: ['primary'] }, { required: ['models'] }],
  additionalProperties: false,
  properties: {
    ...routeProperties,
    pollSeconds: { type: 'number', minimum: 0 },
    logRequests: { oneOf: [percent, { type: 'object', additionalProperties: percent }] },
    models: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['primary'],
        additionalProperties: false,
        properties: { ...routeProperties, name: { type: 'string', pattern: SERVED_NAME_RE.source } },
      },
    },
  },
});

export async function readRoutesFile(path: string): Promise<ServeOptions> {
  let doc: unknown;
  try {
    doc = parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `Cannot read the routes file ${path}: ${(err as Error).message}`);
  }
  if (!validate(doc)) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `Routes file ${path}: ${ajv.errorsText(validate.errors, { dataVar: 'routes' })}`);
  }
  const r = doc as unknown as Record<string, string | number | Record<string, number> | undefined>;
  if (r.primary === undefined) {
    const list = { models: (doc as { models: ServedModel[] }).models } as ServeOptions;
    if (r.pollSeconds !== undefined) list.pollSeconds = r.pollSeconds as number;
    applyLogRequests(list, r.logRequests);
    return list;
  }
  const out: ServeOptions = { modelUri: r.primary as string };
  if (r.canary !== undefined) out.canaryUri = r.canary as string;
  if (r.canaryWeight !== undefined) out.canaryWeight = r.canaryWeight as number;
  if (r.stickyHeader !== undefined) out.stickyHeader = r.stickyHeader as string;
  if (r.shadow !== undefined) out.shadowUri = r.shadow as string;
  if (r.shadowPercent !== undefined) out.shadowPercent = r.shadowPercent as number;
  if (r.pollSeconds !== undefined) out.pollSeconds = r.pollSeconds as number;
  applyLogRequests(out, r.logRequests);
  return out;
}

function applyLogRequests(out: ServeOptions, given: string | number | Record<string, number> | undefined): void {
  if (typeof given === 'number') out.logRequests = given;
  else if (typeof given === 'object') out.logRequestsByModel = Object.entries(given).map(([k, v]) => `${k}=${v}`);
}
