/**
 * The console (`/`, `/console`), its data (`/console/api/*`), the OpenAPI document
 * (`/openapi.json`) and the docs page (`/docs`). The pages and their scripts are static and say
 * nothing about the models; everything they show comes from the data routes, which need the bearer
 * token when one is configured (the page asks for it), as /openapi.json does.
 */
import type { Context } from 'hono';
import type { GatewayMetrics } from '../../core/metrics.js';
import type { ModelHost } from '../../core/model-host.js';
import { type ServedModel, servedModels } from '../../core/served.js';
import { type DriftSource, StatsSampler } from '../../core/stats.js';
import { GatewayError } from '../../errors.js';
import { schemaToJson } from '../../schema/signature.js';
import { MODELGATE_VERSION } from '../../version.js';
import { type AssetName, AssetStore } from '../assets.js';
import { requestHeader } from '../body.js';
import { type DocumentOptions, openApiDocument } from '../openapi/document.js';
import { reply } from '../respond.js';
import type { Mount } from '../route.js';

export interface ConsoleDeps {
  readonly host: ModelHost;
  readonly metrics: GatewayMetrics;
  readonly document: DocumentOptions;
  /** The console's files; found beside the bundle when left out. */
  readonly assets?: AssetStore;
  /** With drift on: its windows, charted per feature. */
  readonly drift?: DriftSource;
}

/** No inline script or style, nothing from another origin, no framing. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

function assetHandler(store: AssetStore, name: AssetName) {
  return async (c: Context) => {
    const asset = await store.get(name);
    if (asset === undefined) {
      throw new GatewayError(
        'ENDPOINT_NOT_FOUND',
        `The console's files are not built (${name}); run npm run build, or serve with --no-console.`,
      );
    }
    const gzip = /\bgzip\b/.test(requestHeader(c, 'accept-encoding') ?? '');
    const headers: Record<string, string> = { ...SECURITY_HEADERS, 'content-type': asset.type, vary: 'accept-encoding' };
    if (gzip) headers['content-encoding'] = 'gzip';
    return new Response(new Uint8Array(gzip ? asset.gzip : asset.body), { status: 200, headers });
  };
}

/** The served models as the console shows them: signatures in MLflow's JSON form. */
function stateView(models: readonly ServedModel[], doc: DocumentOptions) {
  return {
    modelgate: MODELGATE_VERSION,
    auth: doc.auth,
    admin: doc.admin,
    models: models.map((m) => ({
      name: m.name,
      ...(m.routes === undefined ? {} : { routes: m.routes }),
      endpoints: ['/invocations', `/v2/models/${m.name}/infer`],
      versions: m.versions.map((v) => ({
        version: v.version,
        route: v.route,
        flavor: v.flavor,
        runtime: v.runtime,
        loadSeconds: v.loadSeconds,
        ...(v.uri === undefined ? {} : { uri: v.uri, follows: v.follows }),
        ...(v.signature === undefined
          ? {}
          : {
              signature: {
                inputs: v.signature.inputs ? schemaToJson(v.signature.inputs) : null,
                outputs: v.signature.outputs ? schemaToJson(v.signature.outputs) : null,
                params: v.signature.params ?? null,
              },
            }),
        ...(v.example === undefined ? {} : { example: v.example }),
      })),
    })),
  };
}

export function mountConsole(m: Mount, deps: ConsoleDeps): void {
  const store = deps.assets ?? new AssetStore();
  const sampler = new StatsSampler(deps.metrics, deps.drift === undefined ? {} : { drift: deps.drift });
  const page = assetHandler(store, 'console.html');
  m.get('/', page);
  m.get('/console', page);
  for (const name of ['console.js', 'console.css'] as const) m.get(`/console/${name}`, assetHandler(store, name));
  m.get('/docs', assetHandler(store, 'docs.html'));
  for (const name of ['docs.js', 'swagger-ui-bundle.js', 'swagger-ui.css'] as const) m.get(`/docs/${name}`, assetHandler(store, name));

  const noStore = { 'cache-control': 'no-store' };
  m.get('/openapi.json', () => reply(200, JSON.stringify(openApiDocument(servedModels(deps.host), deps.document)), noStore), {
    protect: true,
  });
  m.get('/console/api/state', () => reply(200, JSON.stringify(stateView(servedModels(deps.host), deps.document)), noStore), {
    protect: true,
  });
  m.get('/console/api/stats', () => reply(200, JSON.stringify(sampler.read()), noStore), { protect: true });
}
