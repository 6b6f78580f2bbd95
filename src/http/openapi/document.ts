/**
 * The OpenAPI 3.1 document of what this server serves right now: built from the served models'
 * signatures on every request (cheap: a few objects per model version), so it changes the moment
 * an alias moves to a version with another signature.
 */
import type { ServedModel, ServedVersion } from '../../core/served.js';
import type { JsonSchema } from '../../schema/json-schema.js';
import { MODELGATE_VERSION } from '../../version.js';
import {
  invocationsRequestSchema,
  invocationsResponseSchema,
  v2InferRequestSchema,
  v2InferExample,
  v2InferResponseSchema,
  v2MetadataSchema,
} from './signature-schemas.js';

export interface DocumentOptions {
  /** Bearer tokens guard inference and model metadata. */
  readonly auth: boolean;
  readonly protectHealth: boolean;
  readonly protectMetrics: boolean;
  /** The admin API is mounted. */
  readonly admin: boolean;
}

type Operation = Record<string, unknown>;

const MLFLOW_ERROR: JsonSchema = {
  type: 'object',
  required: ['error_code', 'message'],
  properties: {
    error_code: { type: 'string', examples: ['BAD_REQUEST', 'INVALID_PARAMETER_VALUE'] },
    message: { type: 'string' },
    sqlstate: { type: 'string' },
    error_class: { type: 'string' },
    request_id: { type: 'string', description: 'On 5xx answers: find the failure in the server log by it.' },
  },
};
const V2_ERROR: JsonSchema = { type: 'object', required: ['error'], properties: { error: { type: 'string' } } };
const READINESS: JsonSchema = {
  type: 'object',
  required: ['ready'],
  properties: { ready: { type: 'boolean' }, state: { enum: ['loading', 'ready', 'failed'] }, models: { type: 'array' }, routes: {} },
};

const json = (schema: JsonSchema, extra: Record<string, unknown> = {}) => ({ 'application/json': { schema, ...extra } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function errors(kind: 'mlflow' | 'v2', statuses: readonly number[]): Record<string, unknown> {
  const schema = ref(kind === 'mlflow' ? 'MlflowError' : 'V2Error');
  const why: Record<number, string> = {
    400: 'The body does not fit the model (schema enforcement, bad JSON, bad params).',
    401: 'No valid bearer token.',
    404: 'No such model or version here.',
    405: 'Method not allowed.',
    408: 'The body arrived too slowly.',
    409: 'The routes do not allow it now.',
    413: 'The body is larger than the limit.',
    415: 'Unsupported Content-Type.',
    503: 'No model ready yet, or too many requests at once.',
    504: 'The request took longer than its deadline.',
  };
  return Object.fromEntries(statuses.map((s) => [String(s), { description: why[s] ?? 'Error.', content: json(schema) }]));
}

/** A safe component name for a model version: OpenAPI allows only `^[a-zA-Z0-9.\-_]+$`. */
const componentName = (model: string, version: string, what: string) => `${model}.v${version}.${what}`.replace(/[^a-zA-Z0-9.\-_]/g, '_');

function parseExample(v: ServedVersion): { json?: unknown; csv?: string } {
  if (v.example === undefined) return {};
  if (v.example.contentType.startsWith('text/csv')) return { csv: v.example.body };
  try {
    return { json: JSON.parse(v.example.body) };
  } catch {
    return {};
  }
}

/** The CSV form of a `dataframe_split` example, header first. */
function csvOf(example: unknown): string | undefined {
  const split = (example as { dataframe_split?: { columns?: unknown[]; data?: unknown[][] } } | undefined)?.dataframe_split;
  const inputs = (example as { inputs?: unknown } | undefined)?.inputs;
  let columns: unknown[] | undefined = split?.columns;
  let rows: unknown[][] | undefined = split?.data;
  if (rows === undefined && Array.isArray(inputs) && inputs.every((r) => Array.isArray(r))) {
    rows = inputs as unknown[][];
    columns = rows[0]?.map((_, i) => `c${i}`);
  }
  if (columns === undefined || rows === undefined) return undefined;
  const cell = (x: unknown) => (typeof x === 'string' ? `"${x.replace(/"/g, '""')}"` : JSON.stringify(x));
  return [columns.map(String).join(','), ...rows.map((r) => r.map(cell).join(','))].join('\n') + '\n';
}

function withSecurity(op: Operation, guarded: boolean, scheme = 'bearer'): Operation {
  return guarded ? { ...op, security: [{ [scheme]: [] }] } : op;
}

function invocationsOperation(
  model: ServedModel,
  primary: ServedVersion,
  opts: DocumentOptions,
  schemas: Record<string, JsonSchema>,
  operationId = 'invocations',
) {
  const req = componentName(model.name, primary.version, 'InvocationsRequest');
  const res = componentName(model.name, primary.version, 'InvocationsResponse');
  schemas[req] = invocationsRequestSchema(primary.signature);
  schemas[res] = invocationsResponseSchema(primary.signature);
  const ex = parseExample(primary);
  const csv = ex.csv ?? csvOf(ex.json);
  const others = model.versions.filter((v) => v !== primary && v.route !== 'shadow');
  return withSecurity(
    {
      operationId,
      tags: [`${model.name} (MLflow scoring protocol)`],
      summary: `Score with ${model.name} (MLflow scoring protocol)`,
      description:
        `Served by version ${primary.version} (${primary.route})` +
        (others.length > 0
          ? `; a share goes to ${others.map((v) => `version ${v.version} (${v.route})`).join(', ')}, see the x-model-version answer header.`
          : '.') +
        ' The body is one of dataframe_split, dataframe_records, instances or inputs (each with optional params), or CSV with a header row.',
      parameters: [
        {
          name: 'x-modelgate-route',
          in: 'header',
          required: false,
          description: 'Pin the request to a route (primary, canary) or a served version number.',
          schema: { type: 'string' },
        },
      ],
      requestBody: {
        required: true,
        content: {
          ...json(ref(req), ex.json === undefined ? {} : { example: ex.json }),
          'text/csv': { schema: { type: 'string' }, ...(csv === undefined ? {} : { example: csv }) },
          'application/x-parquet': { schema: { type: 'string', contentMediaType: 'application/x-parquet' } },
        },
      },
      responses: {
        200: {
          description: 'The predictions.',
          headers: {
            'x-model-name': { schema: { type: 'string' } },
            'x-model-version': { description: 'The version that answered.', schema: { type: 'string' } },
          },
          content: json(ref(res)),
        },
        ...errors('mlflow', [400, ...(opts.auth ? [401] : []), 413, 415, 503, 504]),
      },
    },
    opts.auth,
  );
}

/** V2's paths for one version; `pinned` false: the model's own paths, where the router picks the version. */
function v2Operations(
  model: ServedModel,
  v: ServedVersion,
  pinned: boolean,
  opts: DocumentOptions,
  schemas: Record<string, JsonSchema>,
  paths: Record<string, unknown>,
) {
  const req = componentName(model.name, v.version, 'V2InferRequest');
  const res = componentName(model.name, v.version, 'V2InferResponse');
  schemas[req] = v2InferRequestSchema(v.signature);
  schemas[res] = v2InferResponseSchema(v.signature);
  const tag = `${model.name} (Open Inference Protocol)`;
  const example = v2InferExample(v.signature);
  const named = `/v2/models/${encodeURIComponent(model.name)}`;
  const base = pinned ? `${named}/versions/${encodeURIComponent(v.version)}` : named;
  const id = (pinned ? `${model.name}_v${v.version}` : model.name).replace(/[^a-zA-Z0-9_]/g, '_');
  const infer = {
    post: withSecurity(
      {
        operationId: `v2_infer_${id}`,
        tags: [tag],
        summary: pinned ? `Infer with ${model.name} version ${v.version}` : `Infer with ${model.name} (the routes pick the version)`,
        requestBody: { required: true, content: json(ref(req), example === undefined ? {} : { example }) },
        responses: {
          200: { description: 'The output tensors.', content: json(ref(res)) },
          ...errors('v2', [400, ...(opts.auth ? [401] : []), 404, 413, 503, 504]),
        },
      },
      opts.auth,
    ),
  };
  paths[`${base}/infer`] = infer;
  paths[base] = {
    get: withSecurity(
      {
        operationId: `v2_metadata_${id}`,
        tags: [tag],
        summary: `Metadata of ${model.name} version ${v.version}`,
        responses: {
          200: { description: 'Inputs and outputs as V2 tensors.', content: json(ref('V2ModelMetadata')) },
          ...errors('v2', [404, 503]),
        },
      },
      opts.auth,
    ),
  };
  paths[`${base}/ready`] = {
    get: withSecurity(
      {
        operationId: `v2_ready_${id}`,
        tags: [tag],
        summary: `Is ${model.name} version ${v.version} ready?`,
        responses: {
          200: {
            description: 'Ready.',
            content: json({ type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } }),
          },
          ...errors('v2', [404, 503]),
        },
      },
      opts.protectHealth,
    ),
  };
}

function simpleGet(operationId: string, summary: string, content: Record<string, unknown>, guarded: boolean, tag: string): Operation {
  return { get: withSecurity({ operationId, tags: [tag], summary, responses: { 200: { description: summary, content } } }, guarded) };
}

function opsPaths(opts: DocumentOptions): Record<string, unknown> {
  const h = opts.protectHealth;
  const status = { type: 'object' };
  const readiness = (id: string, summary: string) => ({
    get: withSecurity(
      {
        operationId: id,
        tags: ['health'],
        summary,
        responses: {
          200: { description: 'Ready.', content: json(ref('Readiness')) },
          503: { description: 'Not ready.', content: json(ref('Readiness')) },
        },
      },
      h,
    ),
  });
  return {
    '/livez': simpleGet('livez', 'Liveness: the process answers.', json(status), h, 'health'),
    '/ready': readiness('ready', 'Readiness: every route has a model loaded and warmed up.'),
    '/ping': readiness('ping', "MLflow's readiness probe."),
    '/health': readiness('health', "MLflow's health probe (same as /ping)."),
    '/version': simpleGet('version', 'Versions of modelgate, Node and the served models.', json(status), h, 'health'),
    '/metrics': simpleGet(
      'metrics',
      'Prometheus metrics.',
      { 'text/plain': { schema: { type: 'string' } } },
      opts.protectMetrics,
      'health',
    ),
    '/v2': simpleGet('v2_server_metadata', 'V2 server metadata.', json(status), h, 'health'),
    '/v2/health/live': simpleGet('v2_live', 'V2 liveness.', json(status), h, 'health'),
    '/v2/health/ready': readiness('v2_ready', 'V2 readiness.'),
  };
}

function adminPaths(): Record<string, unknown> {
  const op = (method: 'get' | 'post', id: string, summary: string, body?: JsonSchema) => ({
    [method]: {
      operationId: id,
      tags: ['admin'],
      summary,
      security: [{ admin: [] }],
      ...(body === undefined ? {} : { requestBody: { required: true, content: json(body, { example: { weight: 50 } }) } }),
      responses: {
        200: { description: 'The routes after the change.', content: json({ type: 'object' }) },
        ...errors('mlflow', [400, 401, 409]),
      },
    },
  });
  return {
    '/admin/routes': op('get', 'admin_routes', 'The routes: weights, versions, alias following, promotions.'),
    '/admin/weight': op('post', 'admin_weight', 'Set the canary weight (percent of traffic).', {
      type: 'object',
      required: ['weight'],
      properties: { weight: { type: 'number', minimum: 0, maximum: 100 } },
    }),
    '/admin/promote': op('post', 'admin_promote', "Move the primary's alias to the canary's version; the weight goes to 0."),
    '/admin/rollback': op('post', 'admin_rollback', 'Weight to 0 and undo the last promotion.'),
    '/admin/refresh': op('post', 'admin_refresh', 'Look at the registry now.'),
  };
}

export function openApiDocument(models: readonly ServedModel[], opts: DocumentOptions): Record<string, unknown> {
  const schemas: Record<string, JsonSchema> = {
    MlflowError: MLFLOW_ERROR,
    V2Error: V2_ERROR,
    Readiness: READINESS,
    V2ModelMetadata: v2MetadataSchema(),
  };
  const paths: Record<string, unknown> = {};
  for (const [i, model] of models.entries()) {
    const serving = model.versions.filter((v) => v.route !== 'shadow');
    const main = serving.find((v) => v.route === 'primary') ?? serving[0];
    // One model: MLflow's /invocations. Several: each under /models/{name}/invocations (a bare
    // /invocations then needs an x-model-name header naming one of them).
    if (main !== undefined && models.length === 1) paths['/invocations'] = { post: invocationsOperation(model, main, opts, schemas) };
    if (main !== undefined && models.length > 1) {
      paths[`/models/${model.name}/invocations`] = { post: invocationsOperation(model, main, opts, schemas, `invocations_${i}`) };
    }
    if (main !== undefined) v2Operations(model, main, false, opts, schemas, paths);
    for (const v of serving) v2Operations(model, v, true, opts, schemas, paths);
  }
  Object.assign(paths, opsPaths(opts));
  if (opts.admin) Object.assign(paths, adminPaths());
  const securitySchemes: Record<string, unknown> = {};
  if (opts.auth) securitySchemes.bearer = { type: 'http', scheme: 'bearer', description: 'One of the --auth-token tokens.' };
  if (opts.admin) securitySchemes.admin = { type: 'http', scheme: 'bearer', description: 'One of the admin tokens.' };
  const served = models.flatMap((m) => m.versions.map((v) => `${m.name} version ${v.version} (${v.route})`));
  return {
    openapi: '3.1.0',
    info: {
      title: 'modelgate',
      version: MODELGATE_VERSION,
      description: `The endpoints of this server as it serves now: ${served.join(', ') || 'no model loaded yet'}. Generated from the models' signatures.`,
    },
    paths,
    components: { schemas, ...(Object.keys(securitySchemes).length > 0 ? { securitySchemes } : {}) },
  };
}
