/**
 * Backend choice when the preferred ones cannot start. Its own file: TF.js keeps one engine per
 * process; in the e2e tier each file gets a fresh process (the unit tier shares one module graph
 * per worker), so this file starts with no backend.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tfjsRuntime } from '../../src/flavors/tfjs/backend.js';
import { openModelDir } from '../../src/core/model-dir.js';
import { loadServable } from '../../src/core/load.js';
import { scoreBody } from '../../src/core/scoring.js';
import { IRIS_LAYERS, denseForward } from '../../tools/tfjs/models.js';
import { captureLogger } from '../fixtures/capture-logger.js';
import { IRIS_ROWS, ModelDirs } from '../fixtures/flavor-models.js';

const dirs = new ModelDirs();
afterAll(() => dirs.cleanup());

describe('TF.js backend fallback', () => {
  it('falls back to cpu when tfjs-node is absent and wasm cannot start, and serves on it', async () => {
    const log = captureLogger();
    // As a broken install would be: the .wasm files are not where the backend looks.
    const rt = await tfjsRuntime({ wasmDir: '/nonexistent/tfjs-wasm', logger: log.logger });
    expect(rt.backend).toBe('cpu');
    expect(log.lines().some((l) => l.msg === 'TF.js backend failed to initialise' && l.backend === 'wasm')).toBe(true);
    expect(log.lines().find((l) => l.msg === 'TF.js backend ready')).toMatchObject({ backend: 'cpu' });

    // Models loaded afterwards share the process's runtime.
    const s = await loadServable(await openModelDir(await dirs.tfjsLayers()), { name: 'cpu', version: '1' });
    try {
      expect(s.model.info).toMatchObject({ backend: 'cpu', runtime: 'tfjs-cpu' });
      const out = JSON.parse(await scoreBody(s, 'application/json', JSON.stringify({ inputs: IRIS_ROWS }))) as { predictions: number[][] };
      const want = denseForward(IRIS_LAYERS, IRIS_ROWS.flat(), 3);
      out.predictions.flat().forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    } finally {
      await s.model.unload();
    }
  });
});
