/**
 * The admin API: read the routes, set the canary weight, promote, roll back, look at the registry
 * now. Off unless a token is configured; every call needs `Authorization: Bearer <token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { GatewayError } from '../errors.js';
import { pyJson } from '../util/py-json.js';
import { BodyBudget, BodyReader } from './body.js';
import { type Handler, reply } from './respond.js';

export interface RouteControl {
  routes(): unknown;
  setWeight(weight: number): void;
  promote(): Promise<unknown>;
  rollback(): Promise<unknown>;
  refresh(): Promise<void>;
}

export interface AdminDeps {
  /** Accepted bearer tokens (any of them). */
  tokens: readonly string[];
  control: RouteControl;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares digests, so the time taken says nothing about how much of a token matched. */
export function tokenMatches(given: string, tokens: readonly string[]): boolean {
  const g = digest(given);
  let ok = false;
  for (const t of tokens) ok = timingSafeEqual(g, digest(t)) || ok;
  return ok;
}

/** Throws 401 unless `authorization` is `Bearer <one of tokens>`. */
export function checkBearer(authorization: string | undefined, tokens: readonly string[], what: string): void {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (m === null || !tokenMatches(m[1], tokens)) {
    throw new GatewayError('UNAUTHENTICATED', `${what} needs a valid bearer token (Authorization: Bearer <token>).`, {
      headers: { 'www-authenticate': 'Bearer realm="modelgate"' },
    });
  }
}

/** Admin bodies are a few bytes of JSON; anything big is refused before it is read. */
const ADMIN_BODY_BYTES = 64 * 1024;

export function mountAdmin(
  deps: AdminDeps,
  mount: { get(path: string, h: Handler): unknown; post(path: string, h: Handler): unknown },
): void {
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
