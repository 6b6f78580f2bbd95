/**
 * The Open Inference Protocol's model repository extension, as Triton and MLServer serve it: the
 * index of served models with their state, and load/unload by name. Behind the admin token, like
 * the rest of the runtime control; answers errors as V2 does (`{"error": …}`).
 */
import type { Context } from 'hono';
import type { ModelCatalog } from '../../core/model-host.js';
import { v2Protocol } from '../../protocols/v2/protocol.js';
import { pyJson } from '../../util/py-json.js';
import { checkBearer } from '../auth.js';
import { type Handler, reply } from '../respond.js';
import type { Mount } from '../route.js';

export interface RepositoryDeps {
  readonly catalog: ModelCatalog;
  /** The admin tokens (any of them). */
  readonly tokens: readonly string[];
}

export function mountRepository(m: Mount, deps: RepositoryDeps): void {
  const { catalog } = deps;
  const v2 = { errors: v2Protocol };
  const authed =
    (h: Handler): Handler =>
    (c: Context) => {
      checkBearer(c.req.header('authorization'), deps.tokens, 'The repository API');
      return h(c);
    };
  const name = (c: Context) => c.req.param('name') as string;

  m.post(
    '/v2/repository/index',
    authed(() => reply(200, pyJson(catalog.index()))),
    v2,
  );
  m.post(
    '/v2/repository/models/:name/load',
    authed(async (c) => {
      await catalog.load(name(c));
      return reply(200, '{}');
    }),
    v2,
  );
  m.post(
    '/v2/repository/models/:name/unload',
    authed(async (c) => {
      await catalog.unload(name(c));
      return reply(200, '{}');
    }),
    v2,
  );
}
