#!/usr/bin/env node
/**
 * modelgate's postinstall: puts onnxruntime-node's CPU runtime beside modelgate without running
 * onnxruntime-node's own install script.
 *
 * That script downloads CUDA libraries from NuGet on linux/x64 whenever they are missing: hundreds
 * of megabytes nobody serving on CPU needs, and a failed install wherever only the npm registry is
 * reachable. A dependent package cannot turn it off, so modelgate does not depend on
 * onnxruntime-node; this script fetches the same tarball from the same registry npm uses, checks
 * it against the integrity recorded below, and unpacks the current platform's files into
 * `vendor/onnxruntime-node/` inside modelgate's own folder (scripts stripped). modelgate loads an
 * onnxruntime-node the project installed itself first, so CUDA is an explicit opt-in:
 * `npm install onnxruntime-node --onnxruntime-node-install=cuda12`.
 *
 * Never fails the install: without the network it says what to do and exits 0 (ONNX models then
 * say the same when they load). Self-contained on purpose: it runs before modelgate is built.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { arch, homedir, platform } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const ORT_VERSION = '1.30.0';
/** dist.integrity of onnxruntime-node@1.30.0 on the npm registry (and in package-lock.json). */
export const ORT_INTEGRITY = 'sha512-twhs1C2C/BFkz1yc5OY0KIU2GUq6DURO7hD4bx5Q2Qy3nAMJwRXW8xU3NVczE29VA9lolLOYepoD8fjTGOfIqw==';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const VENDOR_DIR = join(ROOT, 'vendor', 'onnxruntime-node');

/** Whether an onnxruntime-node is already resolvable from modelgate (the project's own, or ours). */
function installed() {
  const require = createRequire(join(ROOT, 'package.json'));
  for (const id of ['onnxruntime-node/package.json', join(VENDOR_DIR, 'package.json')]) {
    try {
      require.resolve(id);
      return true;
    } catch {
      // not there
    }
  }
  return false;
}

function registryUrl() {
  const base = process.env.npm_config_registry || 'https://registry.npmjs.org/';
  return `${base.endsWith('/') ? base : `${base}/`}onnxruntime-node/-/onnxruntime-node-${ORT_VERSION}.tgz`;
}

/** The entries of an uncompressed tar (ustar, with pax `path` records for long names). */
function* tarEntries(buf) {
  let off = 0;
  let paxPath;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) return;
    const field = (start, len) =>
      header
        .subarray(start, start + len)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    const name = paxPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const body = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      paxPath = m ? m[1] : undefined;
      continue;
    }
    paxPath = undefined;
    yield { name, type, body };
  }
}

/** Files the runtime needs on this machine: everything but other platforms' binaries and the install script. */
function wanted(rel) {
  if (rel.startsWith('script/')) return false;
  if (!rel.startsWith('bin/')) return true;
  return rel.startsWith(`bin/napi-v6/${platform()}/${arch()}/`);
}

async function unpack(tgz, dest) {
  const tmp = `${dest}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  for (const e of tarEntries(gunzipSync(tgz))) {
    if (e.type !== '0' || !e.name.startsWith('package/')) continue;
    const rel = e.name.slice('package/'.length);
    const out = normalize(join(tmp, rel));
    if (!out.startsWith(tmp + sep) || !wanted(rel)) continue;
    await mkdir(dirname(out), { recursive: true });
    let body = e.body;
    if (rel === 'package.json') {
      // Nothing may run this package's scripts later (npm rebuild, a stray lifecycle).
      const pj = JSON.parse(body.toString('utf8'));
      delete pj.scripts;
      body = Buffer.from(`${JSON.stringify(pj, null, 2)}\n`);
    }
    await writeFile(out, body, { mode: 0o644 });
  }
  await rm(dest, { recursive: true, force: true });
  await rename(tmp, dest);
}

/** fetch through npm's proxy setting (as npm hands it to scripts) or the usual variables, if any. */
async function get(url) {
  const env = process.env;
  const proxy =
    env.npm_config_https_proxy || env.npm_config_proxy || env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  const signal = AbortSignal.timeout(300_000);
  if (!proxy) return fetch(url, { signal });
  const { fetch: proxied, ProxyAgent } = await import('undici');
  return proxied(url, { signal, dispatcher: new ProxyAgent(proxy) });
}

const [ALGO, DIGEST] = ORT_INTEGRITY.split('-');
const matches = (tgz) => createHash(ALGO).update(tgz).digest('base64') === DIGEST;

/**
 * The tarball from npm's own cache when it is there (npm stores content under its digest, so the
 * path follows from the integrity): installs from a warm cache need no network.
 */
async function fromNpmCache() {
  const cache = process.env.npm_config_cache || join(homedir(), '.npm');
  const hex = Buffer.from(DIGEST, 'base64').toString('hex');
  const tgz = await readFile(join(cache, '_cacache', 'content-v2', ALGO, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4))).catch(
    () => undefined,
  );
  return tgz !== undefined && matches(tgz) ? tgz : undefined;
}

async function fetchTarball(url) {
  const cached = await fromNpmCache();
  if (cached !== undefined) return cached;
  const res = await get(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const tgz = Buffer.from(await res.arrayBuffer());
  if (!matches(tgz)) throw new Error(`${url} does not match its recorded integrity (${ORT_INTEGRITY})`);
  return tgz;
}

export async function installOnnxRuntime({ log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  if (installed()) return 'present';
  const url = registryUrl();
  try {
    await unpack(await fetchTarball(url), VENDOR_DIR);
    log(`modelgate: onnxruntime-node ${ORT_VERSION} (CPU) installed in ${VENDOR_DIR}`);
    return 'installed';
  } catch (err) {
    log(
      `modelgate: could not fetch onnxruntime-node ${ORT_VERSION} (${err instanceof Error ? err.message : String(err)}); ` +
        'ONNX models will not load until it is there: run `npm rebuild modelgate` once the registry is reachable, ' +
        'or `npm install onnxruntime-node@' +
        ORT_VERSION +
        ' --onnxruntime-node-install=skip`.',
    );
    return 'failed';
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  await installOnnxRuntime();
}
