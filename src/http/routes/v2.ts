/** The Open Inference Protocol (KServe V2) on the same models, answering errors as `{"error": …}`. */
import type { Context } from 'hono';
import { ModelNotReadyError } from '../../errors.js';
import { flavorNamed } from '../../flavors/index.js';
import type { ModelHost } from '../../core/model-host.js';
import { acquireModel, servedAs } from '../../core/routing/by-name.js';
import { modelMetadata } from '../../protocols/v2/metadata.js';
import { v2Protocol } from '../../protocols/v2/protocol.js';
import { pyJson } from '../../util/py-json.js';
import { MODELGATE_VERSION } from '../../version.js';
import { requestHeader } from '../body.js';
import { type InferDeps, inferHandler } from '../infer.js';
import { reply } from '../respond.js';
import type { Mount } from '../route.js';
import type { Handler } from '../respond.js';

export interface V2Deps extends InferDeps {
  readonly host: ModelHost;
  /** Whether health endpoints need a token. */
  readonly protectHealth: boolean;
  readonly readiness: Handler;
}

const param = (c: Context) => ({ name: c.req.param('name') as string, version: c.req.param('version') as string | undefined });

export function mountV2(m: Mount, deps: V2Deps): void {
  const { host, protectHealth } = deps;
  const v2 = { errors: v2Protocol };
  m.get('/v2/health/live', () => reply(200, '{"live": true}'), { protect: protectHealth });
  m.get('/v2/health/ready', deps.readiness, { protect: protectHealth });
  m.get('/v2', () => reply(200, pyJson({ name: 'modelgate', version: MODELGATE_VERSION, extensions: [] })), {
    protect: protectHealth,
    ...v2,
  });

  for (const base of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    m.post(
      `${base}/infer`,
      inferHandler(deps, v2Protocol, (c) => {
        const { name, version } = param(c);
        return acquireModel(host, name, version);
      }),
      { protect: true, ...v2 },
    );
    m.get(
      base,
      async (c) => {
        const { name, version } = param(c);
        if (host.catalog === undefined) servedAs(host, name, version);
        const lease = await acquireModel(host, name, version)((h) => requestHeader(c, h));
        if (lease === undefined) throw new ModelNotReadyError();
        try {
          const { versions } = servedAs(host.catalog?.hostOf(name) ?? host, name, version);
          const { servable } = lease;
          const platform = flavorNamed(servable.flavor)?.v2Platform ?? `modelgate_${servable.flavor}`;
          return reply(200, pyJson(modelMetadata(name, versions, platform, servable.signature)));
        } finally {
          lease.release();
        }
      },
      { protect: true, ...v2 },
    );
    m.get(
      `${base}/ready`,
      (c) => {
        const { name, version } = param(c);
        const catalog = host.catalog;
        if (catalog !== undefined) {
          const named = catalog.hostOf(name);
          if (named === undefined) return reply(503, pyJson({ name, ready: false }));
          servedAs(named, name, version);
          return reply(200, pyJson({ name, ready: true }));
        }
        if (!host.isReady()) return reply(503, pyJson({ name, ready: false }));
        servedAs(host, name, version);
        return reply(200, pyJson({ name, ready: true }));
      },
      { protect: protectHealth, ...v2 },
    );
  }
}
