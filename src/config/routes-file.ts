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
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { ServeOptions } from './resolve.js';
import { GatewayError } from '../errors.js';
import { ajv } from '../schema/ajv.js';

const percent = { type: 'number', minimum: 0, maximum: 100 };
const validate = ajv.compile({
  type: 'object',
  required: ['primary'],
  additionalProperties: false,
  properties: {
    primary: { type: 'string', minLength: 1 },
    canary: { type: 'string', minLength: 1 },
    canaryWeight: percent,
    stickyHeader: { type: 'string', pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" },
    shadow: { type: 'string', minLength: 1 },
    shadowPercent: percent,
    pollSeconds: { type: 'number', minimum: 0 },
    logRequests: { oneOf: [percent, { type: 'object', additionalProperties: percent }] },
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
  const out: ServeOptions = { modelUri: r.primary as string };
  if (r.canary !== undefined) out.canaryUri = r.canary as string;
  if (r.canaryWeight !== undefined) out.canaryWeight = r.canaryWeight as number;
  if (r.stickyHeader !== undefined) out.stickyHeader = r.stickyHeader as string;
  if (r.shadow !== undefined) out.shadowUri = r.shadow as string;
  if (r.shadowPercent !== undefined) out.shadowPercent = r.shadowPercent as number;
  if (r.pollSeconds !== undefined) out.pollSeconds = r.pollSeconds as number;
  if (typeof r.logRequests === 'number') out.logRequests = r.logRequests;
  else if (r.logRequests !== undefined) out.logRequestsByModel = Object.entries(r.logRequests).map(([k, v]) => `${k}=${v}`);
  return out;
}
