/** Liveness, readiness (MLflow's /ping and /health among them), the version and /metrics. */
import type { Context } from 'hono';
import type { ModelHost } from '../../core/model-host.js';
import { pyJson } from '../../util/py-json.js';
import { MODELGATE_VERSION } from '../../version.js';
import { hasBearer } from '../auth.js';
import { requestHeader } from '../body.js';
import { type Handler, reply } from '../respond.js';
import type { Mount } from '../route.js';

export interface MetricsText {
  text: string;
  contentType: string;
}

export interface OpsDeps {
  readonly host: ModelHost;
  readonly authTokens: readonly string[];
  readonly protectHealth: boolean;
  readonly protectMetrics: boolean;
  readonly metricsText: () => Promise<MetricsText>;
}

/** Scrapes within this window get the same /metrics text. */
const SCRAPE_SHARE_MS = 500;

/**
 * Readiness; with authentication on, the details (model URIs, alias names, error text) are for
 * token holders only. `monitoring` adds the inference log's and drift's state to the details:
 * a failing log sink is shown, never made a reason to take the server out of rotation.
 */
export function readinessHandler(host: ModelHost, authTokens: readonly string[], monitoring?: () => object): Handler {
  return (c: Context) => {
    const ready = host.isReady();
    const status = host.status();
    const detailed = authTokens.length === 0 || hasBearer(requestHeader(c, 'authorization'), authTokens);
    const extra = detailed && monitoring !== undefined ? { monitoring: monitoring() } : {};
    return reply(ready ? 200 : 503, pyJson(detailed ? { ready, ...status, ...extra } : { ready, state: status.state }));
  };
}

export function mountOps(m: Mount, deps: OpsDeps & { readiness: Handler }): void {
  const { host, readiness } = deps;
  const protect = deps.protectHealth;
  // Liveness: 200 while the process runs and answers, whatever the model is doing.
  m.get('/livez', () => reply(200, '{"status": "ok"}'), { protect });
  m.get('/ready', readiness, { protect });
  // MLflow's /ping and /health mean "ready to serve": its server listens only once the model is
  // loaded, and SageMaker-style platforms send traffic as soon as /ping answers 200.
  m.get('/ping', readiness, { protect });
  m.get('/health', readiness, { protect });
  m.get(
    '/version',
    () => {
      const models = host.status().models.map((s) => ({ name: s.name, version: s.version, flavor: s.flavor }));
      return reply(200, pyJson({ modelgate: MODELGATE_VERSION, node: process.versions.node, models }));
    },
    { protect },
  );
  const scrape = sharedScrape(deps.metricsText);
  m.get(
    '/metrics',
    async () => {
      const s = await scrape();
      return reply(200, s.text, { 'content-type': s.contentType });
    },
    { protect: deps.protectMetrics },
  );
}

/**
 * Scrapes that arrive within a short window share one rendering: rendering (and, with workers,
 * collecting from every process) is costly, and a crowd of scrapers must not slow predictions.
 */
function sharedScrape(render: () => Promise<MetricsText>): () => Promise<MetricsText> {
  let last: { at: number; result: Promise<MetricsText> } | undefined;
  return () => {
    const now = performance.now();
    if (last !== undefined && now - last.at < SCRAPE_SHARE_MS) return last.result;
    const result = render();
    last = { at: now, result };
    result.catch(() => (last = undefined));
    return result;
  };
}
