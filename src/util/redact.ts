/**
 * URIs as they may be printed or stored: user info (`https://user:password@host`, which MLflow
 * users put in tracking URIs) never leaves the process, neither in logs nor in image files.
 */
// Greedy up to the last '@' before the path, as URL parsing reads it: a password may hold '@'.
const USERINFO_RE = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i;

export function redactUri(uri: string): string {
  return uri.replace(USERINFO_RE, '$1***@');
}

/** Every URI inside a text (an error message naming a server), redacted. */
export function redactText(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#'"]*@/gi, '$1***@');
}
