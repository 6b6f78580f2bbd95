/**
 * `--workers N`: N server processes share the port through Node's cluster module, so requests
 * are parsed and scored on every core. The primary process only supervises: it restarts a worker
 * that dies after starting, stops everything if a worker cannot start, forwards SIGTERM, and
 * answers two kinds of message:
 *
 * - metrics: the worker that receives GET /metrics asks the primary, which collects every
 *   worker's metrics and returns them aggregated (prom-client's AggregatorRegistry), so one
 *   scrape sees the whole server;
 * - route events: a weight change, promotion or rollback made through one worker's admin API is
 *   replayed on the others, so every worker routes the same way.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Gauge, type Registry } from 'prom-client';
import { describeError } from '../errors.js';
import type { ResolvedServeConfig } from '../config/index.js';
import type { Logger } from '../util/log.js';
import type { RouteControl } from '../core/model-host.js';
import type { ModelRouter, RouteEvent } from '../core/routing/router.js';
import { type RunningServer, STOP_SIGNALS, startServer } from './server.js';

type Message =
  | { type: 'mg:ready' }
  | { type: 'mg:fatal'; message: string }
  | { type: 'mg:metrics-request'; id: number }
  | { type: 'mg:metrics-collect'; id: number }
  | { type: 'mg:metrics-part'; id: number; metrics: MetricsPart }
  | { type: 'mg:metrics-result'; id: number; text: string; contentType: string }
  | { type: 'mg:route-event'; event: RouteEvent };

/** One process's metrics as prom-client's getMetricsAsJSON gives them. */
type MetricsPart = { name: string; type: string; values: unknown[] }[];

const COLLECT_TIMEOUT_MS = 2000;
/** Replacement workers that keep dying wait longer each time, up to this. */
const MAX_RESTART_DELAY_MS = 30_000;

function isMessage(m: unknown): m is Message {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as { type?: unknown }).type === 'string' &&
    (m as { type: string }).type.startsWith('mg:')
  );
}

/** Sends to a worker that may be gone: a closed channel is not worth the primary's life. */
function sendTo(w: Worker, m: Message): void {
  if (w.isDead() || !w.isConnected()) return;
  try {
    w.send(m, () => undefined);
  } catch {
    // the worker disconnected between the check and the send
  }
}

/** The counts a dead worker had reported: counters and histograms only (they must never go backwards). */
function cumulativeOnly(part: MetricsPart): MetricsPart {
  return part.filter((m) => m.type === 'counter' || m.type === 'histogram');
}

/**
 * The supervising process. Resolves with the exit status once every worker has stopped.
 *
 * Workers listen only once their models are loaded, so none gets traffic it cannot serve. A worker
 * that reports its model cannot be loaded, before the server was ever up, stops the server (it
 * would not load on a retry either); any other death is replaced, with a growing delay if
 * replacements keep dying, and never takes the server down.
 */
export function runPrimary(config: ResolvedServeConfig, logger: Logger): Promise<number> {
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    let failed = false;
    let everReady = false;
    let restartDelay = 0;
    const ready = new Set<Worker>();
    const fatal = new Set<Worker>();
    const lastParts = new Map<Worker, MetricsPart>();
    /** What dead workers had counted (their last reported counters and histograms). */
    let retired: MetricsPart[] = [];
    const startedAt = Date.now() / 1000;
    interface Collect {
      from: Worker;
      /** The id the asking worker used, to answer under. */
      replyId: number;
      parts: MetricsPart[];
      waiting: Set<Worker>;
      timer: NodeJS.Timeout;
    }
    const collects = new Map<number, Collect>();
    let nextCollect = 0;

    const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

    const finishCollect = (id: number) => {
      const c = collects.get(id);
      if (c === undefined) return;
      collects.delete(id);
      clearTimeout(c.timer);
      // A worker that did not answer in time (stalled, busy) still counts what it last reported:
      // leaving it out would make the cluster's counters go backwards.
      const stalled = [...c.waiting].flatMap((w) => {
        const last = lastParts.get(w);
        return last === undefined ? [] : [cumulativeOnly(last)];
      });
      const registry = AggregatorRegistry.aggregate([...c.parts, ...stalled, ...retired] as never[]) as Registry;
      // The server's start, which the per-process gauges cannot say once aggregated.
      new Gauge({
        name: 'process_start_time_seconds',
        help: 'Start time of the server (its primary process) since the Unix epoch, in seconds.',
        registers: [registry],
      }).set(startedAt);
      void registry
        .metrics()
        .then((text) => sendTo(c.from, { type: 'mg:metrics-result', id: c.replyId, text, contentType: registry.contentType }));
    };

    const onMessage = (worker: Worker, msg: unknown) => {
      if (!isMessage(msg)) return;
      switch (msg.type) {
        case 'mg:ready':
          ready.add(worker);
          everReady = true;
          restartDelay = 0;
          if (ready.size === config.workers) logger.info({ workers: config.workers }, 'all workers ready');
          break;
        case 'mg:fatal':
          fatal.add(worker);
          break;
        case 'mg:metrics-request': {
          const id = ++nextCollect;
          const workers = live().filter((w) => ready.has(w));
          // A worker that does not answer in time is left out rather than stalling the scrape.
          const timer = setTimeout(() => finishCollect(id), COLLECT_TIMEOUT_MS);
          collects.set(id, { from: worker, replyId: msg.id, parts: [], waiting: new Set(workers), timer });
          for (const w of workers) sendTo(w, { type: 'mg:metrics-collect', id });
          break;
        }
        case 'mg:metrics-part': {
          lastParts.set(worker, msg.metrics);
          const c = collects.get(msg.id);
          if (c === undefined || !c.waiting.has(worker)) return;
          c.parts.push(msg.metrics);
          c.waiting.delete(worker);
          if (c.waiting.size === 0) finishCollect(msg.id);
          break;
        }
        case 'mg:route-event':
          for (const w of live()) if (w !== worker) sendTo(w, msg);
          break;
        default:
          break;
      }
    };

    const fork = () => {
      if (stopping) return;
      const w = cluster.fork({ MODELGATE_WORKER: '1' });
      w.on('message', (msg: unknown) => onMessage(w, msg));
      w.on('error', (err) => logger.warn({ err, workerPid: w.process.pid }, 'a worker channel failed'));
    };

    const stop = () => {
      if (stopping) return;
      stopping = true;
      const workers = live();
      if (workers.length === 0) resolveExit(failed ? 1 : 0);
      for (const w of workers) w.process.kill('SIGTERM');
    };

    cluster.on('exit', (worker, code, signal) => {
      ready.delete(worker);
      const part = lastParts.get(worker);
      lastParts.delete(worker);
      if (part !== undefined) {
        retired.push(cumulativeOnly(part));
        if (retired.length > 16) {
          // Many restarts: fold what is kept into one part (the folded ones stay until it is ready).
          const folded = retired.length;
          void (AggregatorRegistry.aggregate(retired as never[]) as Registry)
            .getMetricsAsJSON()
            .then((one) => (retired = [one as never, ...retired.slice(folded)]));
        }
      }
      for (const [id, c] of collects) if (c.waiting.delete(worker) && c.waiting.size === 0) finishCollect(id);
      if (!stopping) {
        if (fatal.delete(worker) && !everReady) {
          // Its model cannot be loaded: a retry would not load it either.
          logger.fatal({ code, signal }, 'a worker could not load the model; stopping');
          failed = true;
          stop();
        } else {
          restartDelay = Math.min(MAX_RESTART_DELAY_MS, restartDelay === 0 ? 100 : restartDelay * 2);
          logger.error({ code, signal, workerPid: worker.process.pid, inMs: restartDelay }, 'a worker died; starting a replacement');
          setTimeout(fork, restartDelay);
        }
      }
      if (stopping && live().length === 0) resolveExit(failed ? 1 : 0);
    });
    for (const sig of STOP_SIGNALS) process.once(sig, stop);
    for (let i = 0; i < config.workers; i++) fork();
  });
}

/** Worker side: metrics through the primary, replicated route changes, and a ready signal. */
export async function startWorker(config: ResolvedServeConfig, logger: Logger): Promise<RunningServer> {
  let nextId = 0;
  const waiting = new Map<number, (r: { text: string; contentType: string }) => void>();
  // Filled in once the server is up; messages that come earlier are ignored.
  const state: { router?: ModelRouter; registry?: Registry } = {};
  const send = (m: Message) =>
    new Promise<void>((resolve) => {
      if (process.connected && process.send !== undefined) process.send(m, undefined, undefined, () => resolve());
      else resolve();
    });

  process.on('message', (msg: unknown) => {
    if (!isMessage(msg)) return;
    if (msg.type === 'mg:metrics-collect' && state.registry !== undefined) {
      void state.registry.getMetricsAsJSON().then((metrics) => send({ type: 'mg:metrics-part', id: msg.id, metrics: metrics as never }));
    } else if (msg.type === 'mg:metrics-result') {
      waiting.get(msg.id)?.(msg);
      waiting.delete(msg.id);
    } else if (msg.type === 'mg:route-event') {
      void state.router
        ?.applyEvent(msg.event)
        .catch((err: unknown) => logger.error({ err, event: msg.event }, 'replaying a route change failed'));
    }
  });

  let running: RunningServer;
  try {
    running = await startServer(config, logger, {
      metricsText: () =>
        new Promise((resolve) => {
          const id = ++nextId;
          waiting.set(id, resolve);
          void send({ type: 'mg:metrics-request', id });
        }),
      wrapControl: (control) => replicated(control, send),
      // A worker takes connections only once it can serve them.
      listenAfterLoad: true,
    });
  } catch (err) {
    // Delivered before the process exits, so the primary knows not to start it again.
    await send({ type: 'mg:fatal', message: describeError(err) });
    throw err;
  }
  state.router = running.router;
  state.registry = running.metrics.registry;
  void send({ type: 'mg:ready' });
  return running;
}

/** Admin operations applied here, then sent to the other workers to replay. */
function replicated(control: RouteControl, post: (m: Message) => Promise<void>): RouteControl {
  const send = (event: RouteEvent) => void post({ type: 'mg:route-event', event });
  return {
    routes: () => control.routes(),
    setWeight(weight) {
      control.setWeight(weight);
      send({ op: 'weight', weight });
    },
    async promote() {
      const p = await control.promote();
      send({ op: 'promoted', promotion: p as never });
      return p;
    },
    async rollback() {
      const r = await control.rollback();
      send({ op: 'rolledBack' });
      return r;
    },
    async refresh() {
      await control.refresh();
      send({ op: 'refresh' });
    },
  };
}
