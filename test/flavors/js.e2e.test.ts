/**
 * The JS-code flavour as a library user's program runs it: from the built package, in an ES-module
 * program, where `require` does not exist.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { saveModel } from '../../src/core/save.js';
import { ROOT, requireBuiltCli, startProcess } from '../fixtures/cli.js';
import { ModelDirs } from '../fixtures/flavor-models.js';

const dirs = new ModelDirs();
afterAll(() => dirs.cleanup());

const WHERE = `import { isMainThread } from 'node:worker_threads';
export function load() { return { predict: () => ({ isMainThread }) }; }
`;

it('runs in its thread in an ES-module program too (node --input-type=module)', async () => {
  requireBuiltCli();
  const src = await dirs.path('src');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'model.mjs'), WHERE);
  const dir = await dirs.path('js-model');
  await saveModel(dir, { flavor: 'js', module: join(src, 'model.mjs') });
  const lib = JSON.stringify(join(ROOT, 'dist', 'src', 'index.js'));
  const run = await startProcess(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { loadServable, openModelDir, scoreBody } from ${lib};
       const s = await loadServable(await openModelDir(${JSON.stringify(dir)}), { name: 'js', version: '1' });
       console.log(s.model.info.isolation, await scoreBody(s, 'application/json', '{"inputs": [1]}'));
       await s.model.unload();`,
    ],
    { cwd: ROOT, timeoutMs: 30_000 },
  ).done;
  expect([run.code, run.stdout.trim()]).toEqual([0, 'thread {"predictions": {"isMainThread": false}}']);
});
