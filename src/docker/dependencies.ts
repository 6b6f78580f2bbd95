/**
 * The production dependencies an image needs, taken from the build host's node_modules so that
 * `docker build` needs no network: modelgate's runtime dependencies minus those only the image
 * builder uses and those only other flavours use, their dependency closure, and inside each
 * package only what Node can load on the target platform.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { FileEntry } from './context.js';
import type { ImagePlatform } from './dockerfile.js';
import { type PackageRule, listFlavors } from '../flavors/index.js';

/** Dependencies only `build-image` itself uses; the server never imports them. */
export const BUILDER_ONLY_PACKAGES: readonly string[] = ['dockerode', 'tar-stream'];

/**
 * Packages the one-file bundle (dist/modelgate.mjs) leaves out and imports at run time: the
 * flavours' runtimes (native or heavy, loaded only when needed), the builder's, and undici.
 * Everything else modelgate uses is inside the bundle, so an image needs only these.
 */
export const BUNDLE_EXTERNALS: readonly string[] = [
  ...new Set([...listFlavors().flatMap((f) => f.image?.packages ?? []), ...BUILDER_ONLY_PACKAGES, 'undici']),
];

const isExternal = (name: string) => BUNDLE_EXTERNALS.includes(name);

/**
 * The packages each flavour loads (lazily, inside `load()`), from the flavour table. A model's
 * image carries only its own flavour's. A flavour that declares none gets every flavour's, which
 * is safe but larger: that includes `js`, whose model code may import onnxruntime-node or TF.js.
 */
export function flavorPackages(): Readonly<Record<string, readonly string[]>> {
  return Object.fromEntries(listFlavors().flatMap((f) => (f.image === undefined ? [] : [[f.name, f.image.packages]])));
}

function packageRule(name: string): PackageRule | undefined {
  for (const f of listFlavors()) {
    const rule = f.image?.packageRules?.[name];
    if (rule !== undefined) return rule;
  }
  return undefined;
}

const NODE_ARCH: Record<ImagePlatform, string> = { 'linux/amd64': 'x64', 'linux/arm64': 'arm64' };

/**
 * Top-level directories of a package that hold no run-time code. Only at the top: deeper down the
 * same names can be code (yaml loads dist/doc/*.js). Nested node_modules come from the closure.
 */
const PRUNED_TOP_DIRS = new Set(['test', 'tests', '__tests__', 'docs', 'example', 'examples', 'benchmark', 'benchmarks', '.github']);
const PRUNED_FILES =
  /(\.d\.[cm]?ts|\.[cm]?ts|\.tsx|\.map|\.md|\.markdown|\.tsbuildinfo)$|^(\.npmignore|\.eslintrc.*|\.prettierrc.*|\.editorconfig|\.travis\.yml|tsconfig.*\.json)$/i;

interface PackageJson {
  name?: string;
  main?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface RuntimePackage {
  readonly name: string;
  /** Where it goes in the image, relative to the app root, forward slashes, e.g. `node_modules/ajv`. */
  readonly path: string;
  /** Where it is on this machine. */
  readonly dir: string;
}

/**
 * Packages modelgate's postinstall puts in its own folder instead of node_modules
 * (scripts/install-onnxruntime.mjs), relative to the package root; in images they go to
 * node_modules as usual.
 */
const VENDORED: Readonly<Record<string, string>> = { 'onnxruntime-node': 'vendor/onnxruntime-node' };

async function readPackageJson(dir: string): Promise<PackageJson | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Node's lookup: node_modules/<name> in the package's folder, then in each parent (above
 * modelgate's own folder too: installed as a dependency, its dependencies are hoisted into the
 * project's node_modules); then modelgate's vendor/.
 */
async function resolvePackage(root: string, from: string, name: string): Promise<string | undefined> {
  let dir = from;
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if ((await readPackageJson(candidate)) !== undefined) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  const vendored = VENDORED[name] === undefined ? undefined : join(root, VENDORED[name]);
  return vendored !== undefined && (await readPackageJson(vendored)) !== undefined ? vendored : undefined;
}

/** Which of modelgate's dependencies the bundled server imports at run time for these flavours. */
export function directRuntimeDependencies(dependencies: readonly string[], flavors: readonly string[]): string[] {
  const byFlavor = flavorPackages();
  const known = flavors.every((f) => f in byFlavor);
  const wanted = new Set(known ? flavors.flatMap((f) => byFlavor[f]) : Object.values(byFlavor).flat());
  const flavorOnly = new Set(Object.values(byFlavor).flat());
  return dependencies.filter((d) => isExternal(d) && !BUILDER_ONLY_PACKAGES.includes(d) && (!flavorOnly.has(d) || wanted.has(d))).sort();
}

/** The packages to ship: the closure of the direct runtime dependencies, as installed under `root`. */
export async function runtimePackages(root: string, flavors: readonly string[]): Promise<RuntimePackage[]> {
  const pj = await readPackageJson(root);
  if (pj === undefined) throw new Error(`No package.json in ${root}`);
  // Flavour runtimes are dependencies whether package.json lists them or they are vendored.
  const declared = new Set([...Object.keys(pj.dependencies ?? {}), ...Object.values(flavorPackages()).flat()]);
  const direct = directRuntimeDependencies([...declared], flavors);
  const found = new Map<string, string>(); // dir → name
  const visit = async (from: string, name: string, required: boolean, requiredBy: string): Promise<void> => {
    const dir = await resolvePackage(root, from, name);
    if (dir === undefined) {
      if (required) throw new Error(`${name} (needed by ${requiredBy}) is not installed under ${root}/node_modules; run npm ci first`);
      return;
    }
    if (found.has(dir)) return;
    found.set(dir, name);
    const p = (await readPackageJson(dir)) ?? {};
    const skip = new Set(packageRule(name)?.notLoaded ?? []);
    const deps: [string, boolean][] = [
      ...Object.keys(p.dependencies ?? {}).map((d): [string, boolean] => [d, true]),
      ...Object.keys(p.optionalDependencies ?? {}).map((d): [string, boolean] => [d, false]),
      // Peers are loaded from the package; optional ones only when installed.
      ...Object.keys(p.peerDependencies ?? {}).map((d): [string, boolean] => [d, p.peerDependenciesMeta?.[d]?.optional !== true]),
    ];
    // @types/* packages hold only declarations.
    for (const [d, req] of deps) if (!skip.has(d) && !d.startsWith('@types/')) await visit(dir, d, req, name);
  };
  for (const d of direct) await visit(root, d, true, 'modelgate');
  const imagePath = (dir: string, name: string) => {
    const rel = relative(root, dir).split(sep).join('/');
    // Hoisted above modelgate's folder, or vendored: at the top of the image's node_modules.
    return rel.startsWith('../') || Object.values(VENDORED).includes(rel) ? `node_modules/${name}` : rel;
  };
  const packages = [...found].map(([dir, name]) => ({ name, dir, path: imagePath(dir, name) }));
  const clash = packages.find((p, i) => packages.findIndex((q) => q.path === p.path) !== i);
  if (clash !== undefined)
    throw new Error(`Two installed copies of ${clash.name} would both go to ${clash.path} in the image; run npm dedupe`);
  return packages.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export type Keep = (relPath: string, isDir: boolean) => boolean;

/** Files under `dir` (paths relative to it) that `keep` accepts; symlinks are followed. */
export async function listTree(dir: string, keep: Keep): Promise<{ path: string; abs: string; size: number; mode: number }[]> {
  const out: { path: string; abs: string; size: number; mode: number }[] = [];
  const walk = async (sub: string): Promise<void> => {
    const entries = await readdir(join(dir, sub), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const rel = sub === '' ? e.name : `${sub}/${e.name}`;
      const abs = join(dir, rel);
      const st = e.isSymbolicLink() ? await stat(abs).catch(() => undefined) : undefined;
      const isDir = e.isDirectory() || st?.isDirectory() === true;
      const isFile = e.isFile() || st?.isFile() === true;
      if (!isDir && !isFile) continue; // dangling links, sockets
      if (!keep(rel, isDir)) continue;
      if (isDir) await walk(rel);
      else {
        const s = st ?? (await stat(abs));
        // Executable bits survive (native helpers); nothing is writable by the server's user.
        out.push({ path: rel, abs, size: s.size, mode: s.mode & 0o111 ? 0o755 : 0o644 });
      }
    }
  };
  await walk('');
  return out;
}

/** Whether a file of a dependency is shipped for this platform. */
export function keepPackageFile(pkg: string, platform: ImagePlatform, main?: string): Keep {
  const keep = packageRule(pkg)?.keep;
  const arch = NODE_ARCH[platform];
  const rule = keep === undefined ? undefined : (path: string, m: string | undefined) => keep(path, arch, m);
  return (rel, isDir) => {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    if (isDir) {
      if (name === 'node_modules' || (rel === name && PRUNED_TOP_DIRS.has(name))) return false;
      return rule === undefined || rule(`${rel}/`, main);
    }
    if (PRUNED_FILES.test(name)) return false;
    return rule === undefined || rule(rel, main);
  };
}

/** Context entries for the packages, under `prefix` (e.g. `deps/node_modules/...`). */
export async function dependencyEntries(
  root: string,
  packages: readonly RuntimePackage[],
  platform: ImagePlatform,
  prefix: string,
): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for (const p of packages) {
    const main = (await readPackageJson(p.dir))?.main;
    for (const f of await listTree(p.dir, keepPackageFile(p.name, platform, main))) {
      out.push({ path: `${prefix}${p.path}/${f.path}`, source: f.abs, size: f.size, mode: f.mode });
    }
  }
  return out;
}
