/**
 * The classic scenario's ratio means something only if both servers compute the same thing: the
 * bare baseline (bench/baselines/compiled.ts, running the graph the benchmark compiles with
 * modelgate's own functions) and modelgate serving the same directory must answer both request
 * bodies identically, and as the library did (bench/models/<name>/expected.json, first 50 rows).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCompiledBaseline } from '../../bench/baselines/compiled.js';
import { BenchModels, CLASSIC_MODELS, type ClassicModel, classicBody } from '../../bench/lib/models.js';
import { ROOT } from '../../bench/lib/servers.js';
import { serveModelDir } from '../fixtures/serve-dir.js';
import { tempDirs } from '../fixtures/temp-dirs.js';

const temps = tempDirs('modelgate-bench-classic-');
afterAll(() => temps.removeAll());

async function predictions(port: number, body: string): Promise<unknown[]> {
  const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { predictions: unknown[] }).predictions;
}

describe('classic benchmark models', () => {
  for (const name of Object.keys(CLASSIC_MODELS) as ClassicModel[]) {
    it(`${name}: the baseline and modelgate answer alike, and as the library did`, async () => {
      const work = await temps.make();
      const model = await new BenchModels(work).classic(name);
      const baseline = await startCompiledBaseline(model.baselineModel);
      const server = await serveModelDir(join(work, name), work);
      try {
        const expected = JSON.parse(readFileSync(join(ROOT, 'bench', 'models', CLASSIC_MODELS[name], 'expected.json'), 'utf8')) as {
          predict: unknown[];
        };
        for (const rows of [1, 1000] as const) {
          const body = classicBody(name, rows);
          const ours = await predictions(server.port, body);
          expect(ours).toHaveLength(rows);
          expect(await predictions(baseline.port, body)).toEqual(ours);
          expect(ours.slice(0, 50)).toEqual(expected.predict.slice(0, rows));
        }
      } finally {
        await server.close();
        await baseline.close();
      }
    });
  }
});
