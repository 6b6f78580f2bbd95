import { cp, mkdir, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { serialize } from 'node:v8';
import { GatewayError } from '../../errors.js';
import { MODELGATE_VERSION } from '../../version.js';
import type { FlavorEntries, SaveModelCommonOptions } from '../flavor.js';

export interface SaveJsModelOptions extends SaveModelCommonOptions {
  flavor: 'js';
  /** The ES module file exporting `load(context)`; copied into `code/`. */
  module: string;
  /** More files or directories the module imports, copied into `code/` beside it (MLflow's `code_paths`). */
  codePaths?: string[];
  /** Any structured-cloneable value, written with `v8.serialize` and given to `load` as `context.state`. */
  state?: unknown;
  /** Name → file or directory, copied into `artifacts/` and given to `load` as absolute paths. */
  artifacts?: Record<string, string>;
}

declare module '../flavor.js' {
  interface SaveOptionsByFlavor {
    js: SaveJsModelOptions;
  }
}

function isInside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r !== '' && !r.startsWith(`..${sep}`) && r !== '..';
}

export async function saveJs(dir: string, o: SaveJsModelOptions): Promise<FlavorEntries> {
  const code = join(dir, 'code');
  await mkdir(code, { recursive: true });
  const modulePath = resolve(o.module);
  let moduleRel: string | undefined;
  for (const p of o.codePaths ?? []) {
    const src = resolve(p);
    await cp(src, join(code, basename(src)), { recursive: true, errorOnExist: true, force: false });
    if (src === modulePath || isInside(src, modulePath)) moduleRel = join('code', basename(src), relative(src, modulePath));
  }
  if (moduleRel === undefined) {
    await cp(modulePath, join(code, basename(modulePath)), { errorOnExist: true, force: false });
    moduleRel = join('code', basename(modulePath));
  }
  // A .js file is ESM only under a package.json saying so; .mjs always is.
  if (moduleRel.endsWith('.js')) await writeFile(join(code, 'package.json'), '{"type": "module"}\n');
  const entry: Record<string, unknown> = { module: moduleRel.split(sep).join('/') };
  if (o.artifacts !== undefined && Object.keys(o.artifacts).length > 0) {
    const artifacts: Record<string, string> = {};
    for (const [name, p] of Object.entries(o.artifacts)) {
      if (!/^[\w.-]+$/.test(name) || name === '.' || name === '..') {
        throw new GatewayError('INVALID_PARAMETER_VALUE', `Artifact name '${name}' must be letters, digits, '_', '-' or '.'`);
      }
      const src = resolve(p);
      const rel = `artifacts/${name}/${basename(src)}`;
      await mkdir(join(dir, 'artifacts', name), { recursive: true });
      await cp(src, join(dir, rel), { recursive: true, errorOnExist: true, force: false });
      artifacts[name] = rel;
    }
    entry.artifacts = artifacts;
  }
  if (o.state !== undefined) {
    await writeFile(join(dir, 'state.bin'), serialize(o.state));
    entry.state = 'state.bin';
  }
  entry.node_version = process.versions.node;
  entry.modelgate_version = MODELGATE_VERSION;
  return { js: entry };
}
