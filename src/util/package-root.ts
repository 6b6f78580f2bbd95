/** Where modelgate itself is installed: images are assembled from its files, and a vendored runtime sits there. */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: Promise<string> | undefined;

/** The directory of modelgate's package.json, found upwards from this module (src/ or dist/src/). */
export function packageRoot(): Promise<string> {
  return (cached ??= (async () => {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (;;) {
      const pj = await readFile(join(dir, 'package.json'), 'utf8').catch(() => undefined);
      if (pj !== undefined && (JSON.parse(pj) as { name?: string }).name === 'modelgate') return dir;
      const up = dirname(dir);
      if (up === dir) throw new Error(`Cannot find modelgate's package.json above ${fileURLToPath(import.meta.url)}`);
      dir = up;
    }
  })());
}
