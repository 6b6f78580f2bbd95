/**
 * The console's and the docs page's static files. They are built into dist/console/ by
 * tools/bundle.ts (our page code bundled with uPlot, Swagger UI copied from its package), shipped
 * in the npm package and copied into images beside modelgate.mjs: nothing is fetched from a CDN.
 * Only the names listed here are ever served, so no request path reaches the file system.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { packageRoot } from '../util/package-root.js';

export const ASSET_TYPES = {
  'console.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'docs.html': 'text/html; charset=utf-8',
  'docs.js': 'text/javascript; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
} as const;

export type AssetName = keyof typeof ASSET_TYPES;

/** Files taken as they are from packages (tools/bundle.ts copies them). */
export const PACKAGE_ASSETS: Readonly<Partial<Record<AssetName, string>>> = {
  'swagger-ui-bundle.js': 'swagger-ui-dist/swagger-ui-bundle.js',
  'swagger-ui.css': 'swagger-ui-dist/swagger-ui.css',
};

/** The folder's name beside the bundle (dist/console, or console/ next to modelgate.mjs in an image). */
export const ASSET_DIR = 'console';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
}

async function findDir(): Promise<string | undefined> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, ASSET_DIR)];
  try {
    candidates.push(join(await packageRoot(), 'dist', ASSET_DIR));
  } catch {
    // an image has no package.json: the folder beside the bundle is the one
  }
  for (const dir of candidates) {
    if (
      await readFile(join(dir, 'console.html')).then(
        () => true,
        () => false,
      )
    )
      return dir;
  }
  return undefined;
}

/** Loads (once) and serves the assets from memory, gzipped ahead of time. */
export class AssetStore {
  private readonly cache = new Map<AssetName, Promise<Asset | undefined>>();
  private dir: Promise<string | undefined> | undefined;

  constructor(private readonly fixedDir?: string) {}

  get(name: AssetName): Promise<Asset | undefined> {
    let p = this.cache.get(name);
    if (p === undefined) {
      p = this.load(name);
      this.cache.set(name, p);
    }
    return p;
  }

  private async load(name: AssetName): Promise<Asset | undefined> {
    const dir = await (this.dir ??= this.fixedDir === undefined ? findDir() : Promise.resolve(this.fixedDir));
    if (dir === undefined) return undefined;
    const body = await readFile(join(dir, name)).catch(() => undefined);
    if (body === undefined) return undefined;
    return { type: ASSET_TYPES[name], body, gzip: gzipSync(body, { level: 9 }) };
  }
}
