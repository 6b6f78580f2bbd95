/**
 * Whether a tool module was run as the program (`node dist/tools/x.js`) rather than imported by a
 * test or another tool, so that importing it never writes files.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `moduleUrl` is the caller's `import.meta.url`; links on either side are resolved before comparing. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
