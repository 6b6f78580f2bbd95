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
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ResolvedServeConfig } from '../config.js';
import type { Logger } from '../util/log.js';
import type { RouteControl } from './admin.js';
import type { ModelRouter, RouteEvent } from './router/router.js';
import { type RunningServer, startServer } from './server.js';

type Message =
  | { type: 'mg:ready' }
  | { type: 'mg:metrics-request'; id: number }
  | { type: 'mg:metrics-collect'; id: number }
  | { type: 'mg:metrics-part'; id: number; metrics: object[] }
  | { type: 'mg:metrics-result'; id: number; text: string; contentType: string }
  | { type: 'mg:route-event'; event: RouteEvent };

const COLLECT_TIMEOUT_MS = 2000;

function isMessage(m: unknown): m is Message {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as { type?: unknown }).type === 'string' &&
    (m as { type: string }).type.startsWith('mg:')
  );
}

/** The supervising process. Resolves with the exit status once every worker has stopped. */
export function runPrimary(config: ResolvedServeConfig, logger: Logger): Promise<number> {
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    let failed = false;
    const ready = new Set<Worker>();
    interface Collect {
      from: Worker;
      /** The id the asking worker used, to answer under. */
      replyId: number;
      parts: object[][];
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
      const registry = AggregatorRegistry.aggregate(c.parts) as Registry;
      void registry.metrics().then((text) => {
        if (!c.from.isDead())
          c.from.send({ type: 'mg:metrics-result', id: c.replyId, text, contentType: registry.contentType } satisfies Message);
      });
    };

    const onMessage = (worker: Worker, msg: unknown) => {
      if (!isMessage(msg)) return;
      switch (msg.type) {
        case 'mg:ready':
          ready.add(worker);
          if (ready.size === config.workers) logger.info({ workers: config.workers }, 'all workers ready');
          break;
        case 'mg:metrics-request': {
          const id = ++nextCollect;
          const workers = live();
          // A worker that does not answer in time is left out rather than stalling the scrape.
          const timer = setTimeout(() => finishCollect(id), COLLECT_TIMEOUT_MS);
          collects.set(id, { from: worker, replyId: msg.id, parts: [], waiting: new Set(workers), timer });
          for (const w of workers) w.send({ type: 'mg:metrics-collect', id } satisfies Message);
          break;
        }
        case 'mg:metrics-part': {
          const c = collects.get(msg.id);
          if (c === undefined) return;
          c.parts.push(msg.metrics);
          c.waiting.delete(worker);
          if (c.waiting.size === 0) finishCollect(msg.id);
          break;
        }
        case 'mg:route-event':
          for (const w of live()) if (w !== worker) w.send(msg);
          break;
        default:
          break;
      }
    };

    const fork = () => {
      const w = cluster.fork({ MODELGATE_WORKER: '1' });
      w.on('message', (msg: unknown) => onMessage(w, msg));
    };

    const stop = () => {
      if (stopping) return;
      stopping = true;
      const workers = live();
      if (workers.length === 0) resolveExit(failed ? 1 : 0);
      for (const w of workers) w.process.kill('SIGTERM');
    };

    cluster.on('exit', (worker, code, signal) => {
      const wasReady = ready.delete(worker);
      for (const [id, c] of collects) if (c.waiting.delete(worker) && c.waiting.size === 0) finishCollect(id);
      if (!stopping) {
        if (!wasReady) {
          // A worker that cannot start (bad model, port in use) would not start on a retry either.
          logger.fatal({ code, signal }, 'a worker failed to start; stopping');
          failed = true;
          stop();
        } else {
          logger.error({ code, signal, pid: worker.process.pid }, 'a worker died; starting a replacement');
          fork();
        }
      }
      if (stopping && live().length === 0) resolveExit(failed ? 1 : 0);
    });
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    for (let i = 0; i < config.workers; i++) fork();
  });
}

/** Worker side: metrics through the primary, replicated route changes, and a ready signal. */
export async function startWorker(config: ResolvedServeConfig, logger: Logger): Promise<RunningServer> {
  let nextId = 0;
  const waiting = new Map<number, (r: { text: string; contentType: string }) => void>();
  // Filled in once the server is up; messages that come earlier are ignored.
  const state: { router?: ModelRouter; registry?: Registry } = {};

  process.on('message', (msg: unknown) => {
    if (!isMessage(msg)) return;
    if (msg.type === 'mg:metrics-collect' && state.registry !== undefined) {
      void state.registry
        .getMetricsAsJSON()
        .then((metrics) => process.send?.({ type: 'mg:metrics-part', id: msg.id, metrics } satisfies Message));
    } else if (msg.type === 'mg:metrics-result') {
      waiting.get(msg.id)?.(msg);
      waiting.delete(msg.id);
    } else if (msg.type === 'mg:route-event') {
      void state.router
        ?.applyEvent(msg.event)
        .catch((err: unknown) => logger.error({ err, event: msg.event }, 'replaying a route change failed'));
    }
  });

  const running = await startServer(config, logger, {
    metricsText: () =>
      new Promise((resolve) => {
        const id = ++nextId;
        waiting.set(id, resolve);
        process.send?.({ type: 'mg:metrics-request', id } satisfies Message);
      }),
    wrapControl: replicated,
  });
  state.router = running.router;
  state.registry = running.metrics.registry;
  running.loaded.then(
    () => process.send?.({ type: 'mg:ready' } satisfies Message),
    () => undefined,
  );
  return running;
}

/** Admin operations applied here, then sent to the other workers to replay. */
function replicated(control: RouteControl): RouteControl {
  const send = (event: RouteEvent) => process.send?.({ type: 'mg:route-event', event } satisfies Message);
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
