/**
 * The console page: served models, live charts from /console/api/stats, "try it" on the serving
 * example, and with the admin token the canary weight, promote, rollback and refresh. Polls; no
 * framework. Tokens live in session storage only, and go only to this server.
 */
import uPlot from 'uplot';

interface Version {
  version: string;
  route: string;
  flavor: string;
  runtime: string;
  loadSeconds: number;
  uri?: string;
  follows?: boolean;
  signature?: { inputs: unknown[] | null; outputs: unknown[] | null; params: unknown[] | null };
  example?: { contentType: string; body: string };
}
interface Routes {
  weight?: number;
  stickyHeader?: string;
  shadowPercent?: number;
  slots?: { route: string; uri: string; follows: boolean; version?: string; state: string }[];
}
interface Model {
  name: string;
  routes?: Routes;
  endpoints: string[];
  versions: Version[];
}
interface State {
  modelgate: string;
  auth: boolean;
  admin: boolean;
  models: Model[];
}
interface Series {
  model: string;
  version: string;
  rps: number[];
  ok: number[];
  clientErrors: number[];
  serverErrors: number[];
  p50: (number | null)[];
  p99: (number | null)[];
  batch: (number | null)[];
  drift: { feature: string; psi: (number | null)[] }[];
}
interface Stats {
  t: number[];
  series: Series[];
  driftThreshold?: number;
}

const API_TOKEN = 'modelgate.token';
const ADMIN_TOKEN = 'modelgate.admin-token';
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const PALETTE = ['#1f5fbf', '#b3401f', '#2d7d2d', '#7a3fb0', '#8a6d00', '#006d75'];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function apiHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const token = sessionStorage.getItem(API_TOKEN);
  return token === null ? extra : { authorization: `Bearer ${token}`, ...extra };
}

async function getJson<T>(path: string): Promise<{ status: number; body: T | undefined }> {
  const res = await fetch(path, { headers: apiHeaders(), cache: 'no-store' });
  const body = res.headers.get('content-type')?.includes('json') ? ((await res.json()) as T) : undefined;
  return { status: res.status, body };
}

let state: State | undefined;
let exampleFilled = false;

function routesLine(m: Model): string {
  const r = m.routes;
  if (r === undefined) return 'primary only';
  const parts = [`primary ${100 - (r.weight ?? 0)}%`];
  if (r.slots?.some((s) => s.route === 'canary')) parts.push(`canary ${r.weight ?? 0}%`);
  if (r.slots?.some((s) => s.route === 'shadow')) parts.push(`shadow mirrors ${r.shadowPercent ?? 0}%`);
  if (r.stickyHeader !== undefined) parts.push(`sticky by ${r.stickyHeader}`);
  return parts.join(' · ');
}

function signatureText(v: Version): string {
  if (v.signature === undefined) return 'no signature';
  const fmt = (list: unknown[] | null) =>
    list === null
      ? '—'
      : list
          .map((s) => {
            const spec = s as { name?: string; type: string; 'tensor-spec'?: { dtype: string; shape: number[] } };
            const t = spec['tensor-spec'] ? `${spec['tensor-spec'].dtype}[${spec['tensor-spec'].shape.join(', ')}]` : spec.type;
            return spec.name === undefined ? t : `${spec.name}: ${t}`;
          })
          .join(', ');
  const params = v.signature.params?.map((p) => (p as { name: string }).name).join(', ');
  return `in ${fmt(v.signature.inputs)} → out ${fmt(v.signature.outputs)}${params ? ` · params ${params}` : ''}`;
}

function modelCard(m: Model): HTMLElement {
  const rows = m.versions.map((v) =>
    el(
      'tr',
      { 'data-route': v.route },
      el('td', {}, v.route),
      el('td', {}, v.version),
      el('td', {}, v.flavor),
      el('td', {}, v.runtime),
      el('td', {}, `${(v.loadSeconds * 1000).toFixed(0)} ms`),
      el('td', {}, v.uri === undefined ? '—' : `${v.uri}${v.follows ? ' (follows)' : ''}`),
      el('td', { class: 'sig' }, signatureText(v)),
    ),
  );
  const head = ['Route', 'Version', 'Flavour', 'Runtime', 'Load time', 'Registry URI', 'Signature'].map((h) =>
    el('th', { scope: 'col' }, h),
  );
  return el(
    'section',
    { class: 'panel model', 'data-model': m.name, 'aria-label': `Model ${m.name}` },
    el('h2', {}, m.name),
    el('p', { class: 'routes', 'data-testid': 'routes' }, routesLine(m)),
    el(
      'div',
      { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': `Versions of ${m.name}` },
      el('table', {}, el('thead', {}, el('tr', {}, ...head)), el('tbody', {}, ...rows)),
    ),
    el('p', { class: 'muted' }, `Endpoints: ${m.endpoints.join(', ')}`),
    el('div', { class: 'charts', id: `charts-${m.name}` }),
  );
}

function renderModels(s: State): void {
  const box = $('models');
  // Charts keep their own elements: only the text parts are rebuilt.
  for (const m of s.models) {
    const card = modelCard(m);
    const old = box.querySelector<HTMLElement>(`section[data-model="${CSS.escape(m.name)}"]`);
    if (old === null) box.append(card);
    else {
      const charts = old.querySelector('.charts') as HTMLElement;
      card.replaceChild(charts, card.querySelector('.charts') as HTMLElement);
      old.replaceWith(card);
    }
  }
  for (const old of box.querySelectorAll<HTMLElement>('section[data-model]')) {
    if (!s.models.some((m) => m.name === old.dataset.model)) old.remove();
  }
}

function fillExample(s: State): void {
  const primary = s.models[0]?.versions.find((v) => v.route === 'primary') ?? s.models[0]?.versions[0];
  if (primary === undefined) return;
  $('try').hidden = false;
  if (exampleFilled || primary.example === undefined) return;
  ($('try-body') as HTMLTextAreaElement).value = primary.example.body;
  ($('try-type') as HTMLSelectElement).value = primary.example.contentType.startsWith('text/csv') ? 'text/csv' : 'application/json';
  exampleFilled = true;
}

async function refreshState(): Promise<void> {
  const { status, body } = await getJson<State>('/console/api/state');
  if (status === 401) {
    $('auth-panel').hidden = false;
    return;
  }
  if (body === undefined || status !== 200) {
    showError(`The server answered ${status} to /console/api/state.`);
    return;
  }
  $('load-error').hidden = true;
  $('auth-panel').hidden = true;
  state = body;
  $('mg-version').textContent = body.modelgate;
  renderModels(body);
  fillExample(body);
  $('admin').hidden = !body.admin;
  syncWeight(body);
}

function showError(text: string): void {
  const e = $('load-error');
  e.textContent = text;
  e.hidden = false;
}

// ---- charts ----

interface ChartSet {
  plots: Map<string, uPlot>;
  keys: string;
}
const charts = new Map<string, ChartSet>();

interface Chart {
  id: string;
  title: string;
  unit: string;
  pick: (s: Series) => (number | null)[][];
  labels: (s: Series) => string[];
}

const CHARTS: Chart[] = [
  { id: 'rps', title: 'Requests per second', unit: 'req/s', pick: (s) => [s.rps], labels: (s) => [`v${s.version}`] },
  {
    id: 'latency',
    title: 'Latency p50 / p99',
    unit: 'ms',
    pick: (s) => [s.p50, s.p99].map((a) => a.map((x) => (x === null ? null : x * 1000))),
    labels: (s) => [`v${s.version} p50`, `v${s.version} p99`],
  },
  {
    id: 'errors',
    title: 'Errors per second by status class',
    unit: 'req/s',
    pick: (s) => [s.clientErrors, s.serverErrors],
    labels: (s) => [`v${s.version} 4xx`, `v${s.version} 5xx`],
  },
  { id: 'batch', title: 'Mean batch size', unit: 'rows', pick: (s) => [s.batch], labels: (s) => [`v${s.version}`] },
];

/** Shown once a version has a drift window: each feature's PSI, and the threshold as a dashed line. */
const DRIFT: Chart = {
  id: 'drift',
  title: 'Drift: PSI per feature against the reference',
  unit: 'PSI',
  pick: (s) => s.drift.map((f) => f.psi),
  labels: (s) => s.drift.map((f) => `v${s.version} ${f.feature}`),
};

function chartWidth(box: HTMLElement): number {
  const w = box.clientWidth;
  // Two a row on wide screens: each figure adds ~12 px of padding and border, the gap 16 px.
  return Math.max(240, w >= 900 ? Math.floor((w - 48) / 2) : w - 16);
}

function drawCharts(model: string, stats: Stats): void {
  const box = document.getElementById(`charts-${model}`);
  if (box === null) return;
  const series = stats.series.filter((s) => s.model === model);
  const drifting = series.some((s) => s.drift.length > 0);
  const shown = drifting ? [...CHARTS, DRIFT] : CHARTS;
  const keys = series.map((s) => `${s.version}:${s.drift.map((f) => f.feature).join('|')}`).join(',');
  let set = charts.get(model);
  if (set === undefined || set.keys !== keys || box.childElementCount === 0) {
    set?.plots.forEach((p) => p.destroy());
    box.replaceChildren();
    set = { plots: new Map(), keys };
    for (const c of shown) {
      const fig = el('figure', { class: 'chart', 'data-chart': c.id });
      fig.append(el('figcaption', {}, `${c.title} (${c.unit})`));
      box.append(fig);
      let color = 0;
      const seriesOpts: uPlot.Series[] = [{}];
      for (const s of series) {
        for (const label of c.labels(s)) {
          // Past the palette (many features), the colours come round again dotted.
          const dash = color >= PALETTE.length ? { dash: [2, 3] } : {};
          seriesOpts.push({ label, stroke: PALETTE[color++ % PALETTE.length], width: 2, spanGaps: false, ...dash });
        }
      }
      if (c === DRIFT) seriesOpts.push({ label: 'threshold', stroke: '#555', width: 1, dash: [6, 4] });
      const plot = new uPlot(
        {
          width: chartWidth(box),
          height: 160,
          series: seriesOpts,
          axes: [{}, { size: 50 }],
          legend: { show: true },
          cursor: { show: true },
        },
        [[]],
        fig,
      );
      set.plots.set(c.id, plot);
    }
    charts.set(model, set);
  }
  for (const c of shown) {
    const data: (number | null)[][] = [stats.t];
    for (const s of series) data.push(...c.pick(s));
    // The latest value, also for tests and screen readers (a canvas says nothing).
    const last = data.slice(1).map((d) => d[d.length - 1] ?? 0);
    if (c === DRIFT) data.push(stats.t.map(() => stats.driftThreshold ?? null));
    set.plots.get(c.id)?.setData(data as uPlot.AlignedData);
    const fig = box.querySelector<HTMLElement>(`[data-chart="${c.id}"]`);
    if (fig !== null) fig.dataset.last = String(Math.max(0, ...last.map((x) => x ?? 0)));
    if (c === DRIFT && fig !== null) driftNote(fig, series, stats.driftThreshold);
  }
}

/** In words, under the drift chart: which features are over the threshold now. */
function driftNote(fig: HTMLElement, series: Series[], threshold: number | undefined): void {
  const over: string[] = [];
  for (const s of series) {
    for (const f of s.drift) {
      const psi = f.psi[f.psi.length - 1];
      if (psi !== null && psi !== undefined && threshold !== undefined && psi > threshold)
        over.push(`v${s.version} ${f.feature} (PSI ${psi.toFixed(2)})`);
    }
  }
  let note = fig.querySelector<HTMLElement>('.drift-note');
  if (note === null) fig.append((note = el('p', { class: 'drift-note', 'aria-live': 'polite' })));
  note.dataset.over = String(over.length);
  note.textContent = over.length === 0 ? `No feature over PSI ${threshold ?? '?'}.` : `Over PSI ${threshold ?? '?'}: ${over.join(', ')}.`;
}

async function refreshStats(): Promise<void> {
  if (state === undefined) return;
  const { status, body } = await getJson<Stats>('/console/api/stats');
  if (status !== 200 || body === undefined) return;
  for (const m of state.models) drawCharts(m.name, body);
}

window.addEventListener('resize', () => {
  for (const [model, set] of charts) {
    const box = document.getElementById(`charts-${model}`);
    if (box !== null) set.plots.forEach((p) => p.setSize({ width: chartWidth(box), height: 160 }));
  }
});

// ---- try it ----

async function tryIt(e: Event): Promise<void> {
  e.preventDefault();
  const type = ($('try-type') as HTMLSelectElement).value;
  const route = ($('try-route') as HTMLSelectElement).value;
  const body = ($('try-body') as HTMLTextAreaElement).value;
  const headers = apiHeaders({ 'content-type': type });
  if (route !== '') headers['x-modelgate-route'] = route;
  const started = performance.now();
  $('try-meta').textContent = 'Sending…';
  try {
    const res = await fetch('/invocations', { method: 'POST', headers, body });
    const text = await res.text();
    const ms = performance.now() - started;
    const version = res.headers.get('x-model-version');
    $('try-meta').textContent = `${res.status} ${res.statusText} · ${ms.toFixed(1)} ms${version === null ? '' : ` · version ${version}`}`;
    $('try-meta').dataset.status = String(res.status);
    $('try-output').textContent = pretty(text);
  } catch (err) {
    $('try-meta').textContent = `The request failed: ${(err as Error).message}`;
  }
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

// ---- admin ----

function adminToken(): string | null {
  return sessionStorage.getItem(ADMIN_TOKEN);
}

async function admin(method: 'GET' | 'POST', path: string, body?: unknown): Promise<void> {
  const token = adminToken();
  if (token === null) return;
  const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } };
  if (body !== undefined) init.body = JSON.stringify(body);
  $('admin-meta').textContent = `${method} ${path}…`;
  const res = await fetch(path, init);
  const text = await res.text();
  $('admin-meta').textContent = `${method} ${path}: ${res.status} ${res.statusText}`;
  $('admin-meta').dataset.status = String(res.status);
  $('admin-output').textContent = pretty(text);
  if (res.status === 401) {
    sessionStorage.removeItem(ADMIN_TOKEN);
    showAdmin(false);
  }
  await refreshState();
}

function showAdmin(unlocked: boolean): void {
  $('admin-controls').hidden = !unlocked;
  $('admin-forget').hidden = !unlocked;
  $('admin-form').querySelector('input')!.hidden = unlocked;
  ($('admin-form').querySelector('button[type=submit]') as HTMLElement).hidden = unlocked;
  ($('admin-form').querySelector('label') as HTMLElement).hidden = unlocked;
}

let weightTouched = false;
function syncWeight(s: State): void {
  const w = s.models[0]?.routes?.weight;
  const hasCanary = s.models[0]?.routes?.slots?.some((x) => x.route === 'canary') === true;
  ($('weight-form') as HTMLElement).hidden = !hasCanary;
  if (w === undefined || weightTouched) return;
  ($('weight-range') as HTMLInputElement).value = String(w);
  ($('weight-number') as HTMLInputElement).value = String(w);
}

async function unlock(e: Event): Promise<void> {
  e.preventDefault();
  const input = $('admin-token') as HTMLInputElement;
  const res = await fetch('/admin/routes', { headers: { authorization: `Bearer ${input.value}` } });
  if (res.status !== 200) {
    $('admin-meta').textContent = `The admin API refused the token (${res.status}).`;
    return;
  }
  sessionStorage.setItem(ADMIN_TOKEN, input.value);
  input.value = '';
  showAdmin(true);
  $('admin-meta').textContent = 'Unlocked.';
  $('admin-output').textContent = pretty(await res.text());
}

function wire(): void {
  $('try-form').addEventListener('submit', (e) => void tryIt(e));
  $('auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('auth-token') as HTMLInputElement;
    sessionStorage.setItem(API_TOKEN, input.value);
    input.value = '';
    void refreshState().then(() => ($('auth-result').textContent = $('auth-panel').hidden ? '' : 'That token was refused.'));
  });
  $('admin-form').addEventListener('submit', (e) => void unlock(e));
  $('admin-forget').addEventListener('click', () => {
    sessionStorage.removeItem(ADMIN_TOKEN);
    showAdmin(false);
  });
  const range = $('weight-range') as HTMLInputElement;
  const num = $('weight-number') as HTMLInputElement;
  range.addEventListener('input', () => ((num.value = range.value), (weightTouched = true)));
  num.addEventListener('input', () => ((range.value = num.value), (weightTouched = true)));
  $('weight-form').addEventListener('submit', (e) => {
    e.preventDefault();
    weightTouched = false;
    void admin('POST', '/admin/weight', { weight: Number(num.value) });
  });
  $('promote').addEventListener('click', () => void admin('POST', '/admin/promote'));
  $('rollback').addEventListener('click', () => void admin('POST', '/admin/rollback'));
  $('refresh').addEventListener('click', () => void admin('POST', '/admin/refresh'));
  showAdmin(adminToken() !== null);
}

async function loop(): Promise<void> {
  await refreshState().catch((err: unknown) => showError(`Cannot reach the server: ${(err as Error).message}`));
  await refreshStats().catch(() => undefined);
}

wire();
void loop();
setInterval(() => void refreshStats().catch(() => undefined), 1000);
setInterval(() => void refreshState().catch(() => undefined), 3000);
