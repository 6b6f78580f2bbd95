/**
 * Paths that model metadata (MLmodel, model.json) names are untrusted: they must be relative and
 * stay inside the model directory, so a model cannot make the server read or import other files.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { GatewayError } from '../errors.js';

/** `rel` resolved against `base`, refused unless it lies inside `root` (and is not `root` itself). */
export function pathInside(root: string, base: string, rel: string, what: string): string {
  if (isAbsolute(rel) || rel.includes('\0') || /^[a-z][a-z0-9+.-]*:/i.test(rel)) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `${what} '${rel}' must be a relative path inside the model directory`);
  }
  const abs = resolve(base, rel);
  const r = relative(resolve(root), abs);
  if (r === '' || r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) {
    throw new GatewayError('INVALID_PARAMETER_VALUE', `${what} '${rel}' points outside the model directory`);
  }
  return abs;
}
