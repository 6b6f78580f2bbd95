/**
 * A program using the compiled runner (dist/src/flavors/onnx/runner.js, as a library user's would)
 * ends by itself with idle session threads, and with a creation it gave up on once onnxruntime
 * returns, without aborting. The runner in this process: onnx-isolation-slow.e2e.test.ts.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IRIS, ROOT, requireBuiltCli, startProcess } from '../fixtures/cli.js';
import { matMulChain, matMulsFor } from '../fixtures/slow-onnx.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-onnx-isolation-cli-');
afterAll(() => temps.removeAll());

async function slowFile(kind: 'create' | 'run', ms: number): Promise<string> {
  const file = join(await temps.make(), 'model.onnx');
  await writeFile(file, matMulChain(kind, await matMulsFor(kind, ms)));
  return file;
}

describe('a process with session threads', () => {
  /** Runs a module script against the compiled runner (dist/), as a library user's program would. */
  const script = (body: string) =>
    startProcess(process.execPath, ['--input-type=module', '-e', body], { cwd: ROOT, timeoutMs: 30_000 }).done;
  const RUNNER = JSON.stringify(join(ROOT, 'dist', 'src', 'flavors', 'onnx', 'runner.js'));

  it('ends by itself with idle threads, and with a given-up creation once onnxruntime returns, without aborting', async () => {
    requireBuiltCli();
    const idle = await script(
      `import { createSessionRunner } from ${RUNNER};
       const r = await createSessionRunner({ path: ${JSON.stringify(join(IRIS, 'model.onnx'))} }, {}, { isolation: 'thread' });
       console.log(r.isolation);`,
    );
    expect([idle.code, idle.signal, idle.stdout.trim()]).toEqual([0, null, 'thread']);

    const file = await slowFile('create', 1500);
    const started = performance.now();
    const busy = await script(
      `import { createSessionRunner } from ${RUNNER};
       await createSessionRunner({ path: ${JSON.stringify(file)} }, { intraOpNumThreads: 1 }, { isolation: 'thread', signal: AbortSignal.timeout(100) })
         .catch((err) => console.log(err.message));`,
    );
    // Not 134 (SIGABRT): the thread was never stopped inside onnxruntime.
    expect([busy.code, busy.signal]).toEqual([0, null]);
    expect(busy.stdout).toContain('missed its deadline');
    expect(performance.now() - started).toBeGreaterThan(1000);
  });
});
