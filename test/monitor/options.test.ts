/**
 * The monitoring settings as they reach the server: the routes file's per-model percentages, the
 * flag form and its mistakes, and a parquet reference dataset profiled at registration.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perModelPercent, readRoutesFile, resolveServeConfig } from '../../src/config/index.js';
import { writeReferenceProfile } from '../../src/core/reference.js';
import { PROFILE_FILE } from '../../src/monitor/drift/profile.js';
import { monitorOptions } from '../../src/server/server.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'modelgate-monitor-options-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('monitoring options', () => {
  it('takes logRequests from a routes file as a percentage or per model', async () => {
    const file = join(root, 'routes.yaml');
    await writeFile(file, 'primary: models:/iris/1\nlogRequests: {iris: 100, churn: 2.5}\n');
    const opts = await readRoutesFile(file);
    expect(opts.logRequestsByModel).toEqual(['iris=100', 'churn=2.5']);
    const config = resolveServeConfig(opts, { logDir: root });
    expect(monitorOptions(config).log).toMatchObject({ percent: 0, perModel: { iris: 100, churn: 2.5 }, dir: root });
    await writeFile(file, 'primary: models:/iris/1\nlogRequests: 7\n');
    expect((await readRoutesFile(file)).logRequests).toBe(7);
    await writeFile(file, 'primary: models:/iris/1\nlogRequests: {iris: 101}\n');
    await expect(readRoutesFile(file)).rejects.toThrow(/logRequests/);
  });

  it('refuses a malformed --log-requests-model entry, naming it', () => {
    expect(perModelPercent(['a=1', 'b/c=50'])).toEqual({ a: 1, 'b/c': 50 });
    for (const bad of ['iris', '=5', 'iris=', 'iris=200', 'iris=x']) {
      expect(() => resolveServeConfig({ modelUri: 'models:/iris/1', logRequestsByModel: [bad] })).toThrow(`got '${bad}'`);
    }
  });

  it('has no log without a sink, whatever the percentage', () => {
    expect(monitorOptions(resolveServeConfig({ modelUri: 'models:/iris/1', logRequests: 50 })).log).toBeUndefined();
  });

  it('profiles a parquet reference dataset', async () => {
    const dir = join(root, 'staged');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    const r = await writeReferenceProfile('test/fixtures/parquet/iris.parquet', dir);
    expect(r).toEqual({ rows: 3, features: 4 });
    const profile = JSON.parse(await readFile(join(dir, PROFILE_FILE), 'utf8')) as { features: { name: string; quantiles: number[] }[] };
    expect(profile.features[0].name).toBe('sepal_length');
    expect(profile.features[0].quantiles[0]).toBe(5.1);
    expect(profile.features[0].quantiles[100]).toBe(6.7);
    await expect(writeReferenceProfile(join(root, 'missing.csv'), dir)).rejects.toThrow(/Cannot read the reference dataset/);
    await expect(writeReferenceProfile('test/fixtures/parquet/expected.json', dir)).rejects.toThrow(/must be a \.csv or \.parquet file/);
  });
});
