/**
 * The console and the docs page in a real headless Chromium (Debian's, driven by puppeteer-core;
 * no browser is downloaded), against the real server on 127.0.0.1 with a canary and the admin
 * API. Every request the pages make is intercepted: one to anywhere but this server fails the
 * test, as does any console error (a CSP violation is one). Screenshots at desktop and phone width
 * go to test-artifacts/ (git-ignored).
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config/index.js';
import { openRegistry } from '../../src/core/registration.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { silentLogger } from '../../src/util/log.js';
import { IRIS_FEATURES } from '../../tools/iris/iris-data.js';
import { trainIrisLogReg } from '../../tools/iris/train.js';
import { irisClassifier } from '../../tools/onnx/models.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN = 'console-admin-token';
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const BODY = '{"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}';

let root: string;
let server: RunningServer;
let browser: Browser;
let base: string;

interface Watched {
  page: Page;
  errors: string[];
  outside: string[];
  /** Bytes on the wire per URL (gzip where the server sent it so). */
  bytes: Map<string, number>;
}

async function watchedPage(width: number, height: number): Promise<Watched> {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  const w: Watched = { page, errors: [], outside: [], bytes: new Map() };
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.protocol === 'data:' || url.hostname === '127.0.0.1') void req.continue();
    else {
      w.outside.push(req.url());
      void req.abort();
    }
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') w.errors.push(msg.text());
  });
  page.on('pageerror', (err) => w.errors.push(String(err)));
  page.on('response', (res) => {
    const length = Number(res.headers()['content-length'] ?? 0);
    w.bytes.set(res.url(), length);
  });
  return w;
}

async function invoke(headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: BODY,
  });
  return { status: res.status, version: res.headers.get('x-model-version'), body: await res.text() };
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent ?? '');
const waitText = (page: Page, selector: string, pattern: string) =>
  page.waitForFunction((s, p) => new RegExp(p).test(document.querySelector(s)?.textContent ?? ''), { timeout: 10_000 }, selector, pattern);
const primaryVersion = (page: Page) => page.$eval('tr[data-route="primary"] td:nth-child(2)', (e) => e.textContent);

describe.skipIf(!existsSync(CHROMIUM))('the console in headless Chromium', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'modelgate-console-'));
    const registry = openRegistry(join(root, 'registry'));
    const { weights, bias } = trainIrisLogReg();
    for (const scale of [1, 0.5]) {
      const dir = join(root, `model-${scale}`);
      await cp('examples/iris', dir, { recursive: true });
      await writeFile(join(dir, 'model.onnx'), irisClassifier({ weights: weights.map((r) => r.map((x) => x * scale)), bias }));
      await registry.register(dir, { name: 'iris' });
    }
    await registry.setAlias('iris', 'champion', '1');
    await registry.setAlias('iris', 'challenger', '2');
    server = await startServer(
      resolveServeConfig({
        modelUri: 'models:/iris@champion',
        canaryUri: 'models:/iris@challenger',
        canaryWeight: 0,
        registryUri: join(root, 'registry'),
        adminTokens: [ADMIN],
        host: '127.0.0.1',
        port: 0,
        pollSeconds: 0.2,
      }),
      silentLogger(),
    );
    await server.loaded;
    base = `http://127.0.0.1:${server.port}`;
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('lists the model, answers "try it" with the server\'s prediction, and charts traffic', async () => {
    const w = await watchedPage(1280, 800);
    const { page } = w;
    await page.goto(`${base}/console`, { waitUntil: 'load' });
    await page.waitForSelector('section[data-model="iris"] tr[data-route="canary"]');
    expect(await primaryVersion(page)).toBe('1');
    expect(await page.$eval('tr[data-route="primary"]', (e) => e.textContent)).toMatch(
      /onnx.*onnxruntime.*models:\/iris@champion \(follows\).*input: float32\[-1, 4\]/,
    );
    expect(await text(page, '[data-testid="routes"]')).toBe('primary 100% · canary 0%');

    // "Try it" is prefilled with the serving example; its answer is the server's.
    expect(await page.$eval('#try-body', (e) => (e as HTMLTextAreaElement).value)).toContain('5.1');
    await page.click('#try-send');
    await page.waitForSelector('#try-meta[data-status="200"]');
    expect(await text(page, '#try-meta')).toMatch(/^200 OK · [\d.]+ ms · version 1$/);
    const example = await page.$eval('#try-body', (e) => (e as HTMLTextAreaElement).value);
    const direct = await fetch(`${base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: example });
    expect(JSON.parse(await text(page, '#try-output'))).toEqual(await direct.json());

    // Traffic: the request-rate chart rises above zero.
    const until = Date.now() + 4000;
    let sent = 0;
    while (Date.now() < until) {
      await Promise.all(Array.from({ length: 8 }, () => invoke()));
      sent += 8;
    }
    expect(sent).toBeGreaterThan(50);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-chart="rps"]')?.dataset.last ?? 0) > 0, {
      timeout: 10_000,
    });
    expect(await page.$$eval('[data-chart] canvas', (c) => c.length)).toBe(4);

    await page.screenshot({ path: join(ARTIFACTS, 'console-1280x800.png'), fullPage: true });
    expect(w.errors).toEqual([]);
    expect(w.outside).toEqual([]);
    // Everything the console loaded, as sent (gzipped): well under 200 KB.
    const total = [...w.bytes].filter(([u]) => !u.includes('/console/api/') && !u.includes('/invocations')).reduce((a, [, b]) => a + b, 0);
    expect(total).toBeGreaterThan(10_000);
    expect(total).toBeLessThan(200 * 1024);
    await page.close();
  }, 60_000);

  it('without the admin token shows no controls, and the admin API refuses the page', async () => {
    const w = await watchedPage(1280, 800);
    await w.page.goto(`${base}/console`);
    await w.page.waitForSelector('section[data-model="iris"]');
    expect(await w.page.$eval('#admin-controls', (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(await w.page.$eval('#admin-controls', (e) => e.getBoundingClientRect().height)).toBe(0);
    const status = await w.page.evaluate(async () => (await fetch('/admin/weight', { method: 'POST', body: '{"weight": 50}' })).status);
    expect(status).toBe(401);
    // A wrong token does not unlock them either.
    await w.page.type('#admin-token', 'not-the-token');
    await w.page.keyboard.press('Enter');
    await waitText(w.page, '#admin-meta', 'refused');
    expect(await w.page.$eval('#admin-controls', (e) => (e as HTMLElement).hidden)).toBe(true);
    expect(server.router.routes().weight).toBe(0);
    expect(w.errors.filter((e) => !/401/.test(e))).toEqual([]);
    expect(w.outside).toEqual([]);
    await w.page.close();
  }, 30_000);

  it('with the admin token: weight 50 splits traffic, promote and rollback move the primary', async () => {
    const w = await watchedPage(1280, 800);
    const { page } = w;
    await page.goto(`${base}/console`);
    await page.waitForSelector('section[data-model="iris"]');
    // Keyboard only: focus the token field, type, Enter.
    await page.focus('#admin-token');
    await page.keyboard.type(ADMIN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#admin-controls:not([hidden])');
    expect(await page.evaluate(() => sessionStorage.getItem('modelgate.admin-token'))).toBe(ADMIN);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    await page.click('#weight-number', { count: 3 });
    await page.keyboard.type('50');
    await page.click('#weight-set');
    await page.waitForSelector('#admin-meta[data-status="200"]');
    await waitText(page, '[data-testid="routes"]', 'canary 50%');
    expect(server.router.routes().weight).toBe(50);
    const versions = await Promise.all(Array.from({ length: 300 }, () => invoke().then((r) => r.version)));
    const toCanary = versions.filter((v) => v === '2').length;
    expect(toCanary).toBeGreaterThan(90);
    expect(toCanary).toBeLessThan(210);
    expect(versions.filter((v) => v !== '1' && v !== '2')).toEqual([]);
    // Both versions in the charts: the picture for the README.
    await page.waitForFunction(() => document.querySelectorAll('[data-chart="rps"] .u-legend .u-series').length >= 3, { timeout: 10_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'console-canary-1280x800.png'), fullPage: true });

    await page.click('#promote');
    await waitText(page, '#admin-meta', '^POST /admin/promote: 200');
    expect(JSON.parse(await text(page, '#admin-output')).promoted).toMatchObject({ alias: 'champion', from: '1', to: '2' });
    await page.waitForFunction(() => document.querySelector('tr[data-route="primary"] td:nth-child(2)')?.textContent === '2', {
      timeout: 10_000,
    });
    await waitText(page, '[data-testid="routes"]', 'canary 0%');
    expect((await invoke()).version).toBe('2');

    await page.click('#rollback');
    await waitText(page, '#admin-meta', '^POST /admin/rollback: 200');
    await page.waitForFunction(() => document.querySelector('tr[data-route="primary"] td:nth-child(2)')?.textContent === '1', {
      timeout: 10_000,
    });
    expect((await invoke()).version).toBe('1');

    await page.click('#refresh');
    await waitText(page, '#admin-meta', '^POST /admin/refresh: 200');
    expect(w.errors).toEqual([]);
    expect(w.outside).toEqual([]);
    await page.close();
  }, 60_000);

  it('works at phone width: one column, no sideways scrolling; keyboard reaches every control; text contrast is AA', async () => {
    const w = await watchedPage(390, 844);
    const { page } = w;
    await page.goto(`${base}/console`);
    await page.waitForSelector('[data-chart="rps"] canvas');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, 'console-390x844.png'), fullPage: true });

    const reached = new Set<string>();
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName || ''));
    }
    for (const id of ['try-type', 'try-route', 'try-send', 'try-body', 'admin-token']) expect(reached).toContain(id);

    const ratios = await page.evaluate(() => {
      const lum = (rgb: string) => {
        const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? [])
          .slice(0, 3)
          .map((x) => Number(x) / 255)
          .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const bgOf = (e: Element | null): string => {
        for (let n = e; n !== null; n = n.parentElement) {
          const bg = getComputedStyle(n).backgroundColor;
          if (bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') return bg;
        }
        return 'rgb(255, 255, 255)';
      };
      return ['h1', 'td', '.muted', 'button', 'label', 'a', 'figcaption'].map((s) => {
        const e = document.querySelector(s) as Element;
        const [a, b] = [lum(getComputedStyle(e).color), lum(bgOf(e))];
        return { s, ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) };
      });
    });
    for (const { s, ratio } of ratios) expect(ratio, s).toBeGreaterThanOrEqual(4.5);
    expect(w.errors).toEqual([]);
    expect(w.outside).toEqual([]);
    await page.close();
  }, 60_000);

  it('under bearer auth asks for the token, then shows the models; try-it and /docs send it', async () => {
    const guarded = await startServer(
      resolveServeConfig({
        modelUri: 'models:/iris/1',
        registryUri: join(root, 'registry'),
        authTokens: ['api-token'],
        host: '127.0.0.1',
        port: 0,
      }),
      silentLogger(),
    );
    try {
      await guarded.loaded;
      const url = `http://127.0.0.1:${guarded.port}`;
      const w = await watchedPage(1280, 800);
      await w.page.goto(`${url}/console`);
      await w.page.waitForSelector('#auth-panel:not([hidden])');
      expect(await w.page.$('section[data-model]')).toBeNull();
      await w.page.type('#auth-token', 'api-token');
      await w.page.keyboard.press('Enter');
      await w.page.waitForSelector('section[data-model="iris"]');
      await w.page.click('#try-send');
      await w.page.waitForSelector('#try-meta[data-status="200"]');
      await w.page.goto(`${url}/docs`);
      await w.page.waitForSelector('[id^="operations-"][id$="-invocations"]', { timeout: 20_000 });
      // Only the two refusals before the token was given.
      expect(w.errors.filter((e) => !/401/.test(e))).toEqual([]);
      expect(w.outside).toEqual([]);
      await w.page.close();
    } finally {
      await guarded.close();
    }
  }, 60_000);

  it('with drift on: a PSI chart per feature, and a shifted feature named over the threshold', async () => {
    const drifting = await startServer(
      resolveServeConfig({
        modelUri: 'models:/iris/1',
        registryUri: join(root, 'registry'),
        host: '127.0.0.1',
        port: 0,
        driftBaselineRequests: 15,
        // The whole of iris (150 rows) in the reference and in each window: the same rows, no drift.
        driftWindow: 150,
      }),
      silentLogger(),
    );
    try {
      await drifting.loaded;
      const url = `http://127.0.0.1:${drifting.port}`;
      // Every iris row in turn, petal length shifted by `shift`, ten rows a request.
      const send = async (requests: number, shift: number) => {
        for (let i = 0; i < requests; i++) {
          const rows = Array.from({ length: 10 }, (_, j) => {
            const r = [...IRIS_FEATURES[(i * 10 + j) % IRIS_FEATURES.length]];
            r[2] += shift;
            return r;
          });
          const res = await fetch(`${url}/invocations`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ inputs: rows }),
          });
          expect(res.status).toBe(200);
          await res.text();
        }
      };
      const w = await watchedPage(1280, 900);
      await w.page.goto(`${url}/console`);
      await w.page.waitForSelector('section[data-model="iris"]');
      // No window yet: no drift chart.
      expect(await w.page.$('[data-chart="drift"]')).toBeNull();
      await send(15, 0);
      await send(15, 0);
      await w.page.waitForSelector('[data-chart="drift"] .drift-note', { timeout: 10_000 });
      expect(await text(w.page, '[data-chart="drift"] .drift-note')).toBe('No feature over PSI 0.25.');
      // The legend names each input position and the predictions' fields.
      const legend = await w.page.$$eval('[data-chart="drift"] .u-legend .u-label', (e) => e.map((x) => x.textContent));
      expect(legend).toEqual(expect.arrayContaining(['v1 input[2]', 'v1 prediction.label', 'threshold']));
      await send(15, 3);
      await w.page.waitForFunction(() => document.querySelector<HTMLElement>('[data-chart="drift"] .drift-note')?.dataset.over !== '0', {
        timeout: 10_000,
      });
      expect(await text(w.page, '[data-chart="drift"] .drift-note')).toMatch(/^Over PSI 0\.25: .*v1 input\[2\] \(PSI \d+\.\d\d\)/);
      expect(Number(await w.page.$eval('[data-chart="drift"]', (e) => (e as HTMLElement).dataset.last))).toBeGreaterThan(0.25);
      await w.page.screenshot({ path: join(ARTIFACTS, 'console-drift-1280x900.png'), fullPage: true });
      expect(w.errors).toEqual([]);
      expect(w.outside).toEqual([]);
      await w.page.close();
    } finally {
      await drifting.close();
    }
  }, 60_000);

  it('/docs renders the OpenAPI document with Swagger UI from the server alone', async () => {
    const w = await watchedPage(1280, 800);
    await w.page.goto(`${base}/docs`);
    await w.page.waitForSelector('[id^="operations-"][id$="-invocations"]', { timeout: 20_000 });
    expect(await w.page.$$eval('.opblock', (e) => e.length)).toBeGreaterThan(20);
    await w.page.screenshot({ path: join(ARTIFACTS, 'docs-1280x800.png') });
    expect(w.errors).toEqual([]);
    expect(w.outside).toEqual([]);
    await w.page.close();
  }, 60_000);
});
