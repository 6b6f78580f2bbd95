/**
 * The admin API: read the routes, set the canary weight, promote, roll back, look at the registry
 * now. Off unless a token is configured; every call needs `Authorization: Bearer <token>`.
 */
import type { Context } from 'hono';
import { GatewayError } from '../../errors.js';
import type { RouteControl } from '../../core/model-host.js';
import { pyJson } from '../../util/py-json.js';
import { checkBearer } from '../auth.js';
import { BodyBudget, BodyReader } from '../body.js';
import { type Handler, reply } from '../respond.js';
import type { Mount } from '../route.js';

export interface AdminDeps {
  /** Accepted bearer tokens (any of them). */
  tokens: readonly string[];
  control: RouteControl;
}

/** Admin bodies are a few bytes of JSON; anything big is refused before it is read. */
const ADMIN_BODY_BYTES = 64 * 1024;

export function mountAdmin(mount: Mount, deps: AdminDeps): void {
  const bodies = new BodyReader({ maxBytes: ADMIN_BODY_BYTES, budget: new BodyBudget(0), minBytesPerSecond: 1024, graceSeconds: 5 });
  const authed =
    (h: Handler): Handler =>
    (c: Context) => {
      checkBearer(c.req.header('authorization'), deps.tokens, 'The admin API');
      return h(c);
    };
  const ok = (v: unknown) => reply(200, pyJson(v));

  mount.get(
    '/admin/routes',
    authed(() => ok(deps.control.routes())),
  );
  mount.post(
    '/admin/weight',
    authed(async (c) => {
      const { text } = await bodies.read(c);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new GatewayError('BAD_REQUEST', 'Send a JSON body like {"weight": 25}.');
      }
      const weight = (body as { weight?: unknown } | null)?.weight;
      if (typeof weight !== 'number') throw new GatewayError('INVALID_PARAMETER_VALUE', '"weight" must be a number from 0 to 100.');
      deps.control.setWeight(weight);
      return ok(deps.control.routes());
    }),
  );
  mount.post(
    '/admin/promote',
    authed(async () => ok({ promoted: await deps.control.promote(), routes: deps.control.routes() })),
  );
  mount.post(
    '/admin/rollback',
    authed(async () => ok({ rollback: await deps.control.rollback(), routes: deps.control.routes() })),
  );
  mount.post(
    '/admin/refresh',
    authed(async () => {
      await deps.control.refresh();
      return ok(deps.control.routes());
    }),
  );
}
