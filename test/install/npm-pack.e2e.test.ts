/**
 * modelgate as a user installs it: `npm pack` of this checkout, `npm install` of the tarball into
 * an empty project with no environment variables set (no ONNXRUNTIME_NODE_INSTALL, no npm
 * settings), then `npx modelgate …` and `import … from 'modelgate'`. onnxruntime-node's own
 * install script (which downloads CUDA libraries) must not run: its CPU runtime is vendored by
 * modelgate's postinstall. Needs the npm registry (as any install does); dist/ must be built.
 */
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, asServed, killAll, requireBuiltCli, startProcess, stop, waitReady } from '../fixtures/cli.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-install-');
let project: string;

/** A user's shell: no MODELGATE_*, MLFLOW_*, ONNXRUNTIME_* or npm_* settings from this test run. */
function userEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(MODELGATE_|MLFLOW_|ONNXRUNTIME_|npm_|NODE_PATH$|VITEST)/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

async function run(cmd: string, args: string[], cwd: string, timeoutMs = 300_000) {
  const r = await startProcess(cmd, args, { cwd, env: userEnv(), timeoutMs, replaceEnv: true }).done;
  expect(r.code, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

beforeAll(async () => {
  requireBuiltCli();
  const packDir = await temps.make();
  // dist/ is built already; the pack must not rebuild it (prepare would).
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir], ROOT);
  const tarball = join(packDir, packed.stdout.trim().split('\n').at(-1) as string);
  project = await temps.make();
  await run('npm', ['init', '-y'], project);
  await run('npm', ['install', tarball], project);
}, 600_000);

afterAll(async () => {
  killAll();
  await temps.removeAll();
});

describe('npm install modelgate into a fresh project', () => {
  it("installs without onnxruntime-node's install script and vendors its CPU runtime", async () => {
    expect(existsSync(join(project, 'node_modules', 'onnxruntime-node'))).toBe(false);
    const vendor = join(project, 'node_modules', 'modelgate', 'vendor', 'onnxruntime-node');
    expect(existsSync(join(vendor, 'dist', 'index.js'))).toBe(true);
    // Only this machine's binaries, and no install script left to run.
    expect(await readdir(join(vendor, 'bin', 'napi-v6'))).toEqual([process.platform]);
    expect(existsSync(join(vendor, 'script'))).toBe(false);
  });

  it('runs `npx modelgate`, and its bin serves the demo model', async () => {
    const v = await run('npx', ['modelgate', '--version'], project);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    // The bin npx runs, started directly so SIGTERM reaches the server (npm exec does not pass it on).
    const s = startProcess(join(project, 'node_modules', '.bin', 'modelgate'), ['demo', '-p', '0'], {
      cwd: project,
      env: userEnv(),
      timeoutMs: 120_000,
      replaceEnv: true,
    });
    const served = asServed(s);
    await waitReady(served, 60_000);
    const res = await fetch(`${served.base}/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
    });
    expect(await res.text()).toContain('"label": [0]');
    // The console's and docs page's files come in the package (dist/console), not from a CDN.
    for (const path of ['/console', '/console/console.js', '/docs/swagger-ui-bundle.js']) {
      expect((await fetch(`${served.base}${path}`)).status, path).toBe(200);
    }
    await stop(served);
  }, 180_000);

  it('puts the vendored runtime into image contexts, where it is node_modules/onnxruntime-node', async () => {
    const ctx = join(project, 'ctx');
    await run('npx', ['modelgate', 'generate-dockerfile', '-m', 'models:/iris@champion', '-d', ctx, '-n', 'iris:1'], project);
    const bin = join(ctx, 'deps', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux');
    expect(await readdir(bin)).toEqual([process.arch === 'arm64' ? 'arm64' : 'x64']);
  }, 60_000);

  it('imports the library and scores with it', async () => {
    await writeFile(
      join(project, 'score.mjs'),
      `import { openRegistry, loadModel, scoreBody } from 'modelgate';
const model = await loadModel(process.argv[2], openRegistry('file:./registry'));
process.stdout.write(await scoreBody(model, 'application/json', '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'));
await model.model.unload();
`,
    );
    const r = await run('node', ['score.mjs', join(project, 'node_modules', 'modelgate', 'examples', 'iris')], project);
    expect(r.stdout).toContain('"label": [0]');
  }, 60_000);
});
