/** Bearer tokens: compared by digest, so the time taken says nothing about how much of a token matched. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

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

export function hasBearer(authorization: string | undefined, tokens: readonly string[]): boolean {
  try {
    checkBearer(authorization, tokens, 'This endpoint');
    return true;
  } catch {
    return false;
  }
}
