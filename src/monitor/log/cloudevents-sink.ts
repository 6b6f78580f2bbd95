/**
 * Posts each logged inference as two CloudEvents in the form KServe's payload logger sends
 * (binary mode: `ce-*` headers, the payload as the body), so receivers written for KServe
 * (a Knative event display, a broker, a custom service) take them as they are:
 * `org.kubeflow.serving.inference.request` with `{"instances": rows}` and
 * `org.kubeflow.serving.inference.response` with `{"predictions": …}`, both with `ce-id` the
 * request id (how a receiver pairs them), the model in `ce-inferenceservicename` and
 * `ce-modelname`, the version in `ce-modelversion`, and the route in `ce-endpoint`.
 */
import type { Sink } from './queue.js';
import type { LoggedInference } from './record.js';

export const CE_REQUEST = 'org.kubeflow.serving.inference.request';
export const CE_RESPONSE = 'org.kubeflow.serving.inference.response';

export interface CloudEventsSinkOptions {
  readonly url: string;
  /** `ce-source`. @default 'modelgate' */
  readonly source?: string;
  /** Milliseconds for one post. @default 5000 */
  readonly timeoutMs?: number;
  /** Posts in flight at once. @default 8 */
  readonly concurrency?: number;
}

interface Event {
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** KServe's own endpoint names are `default` and `canary`. */
const endpoint = (route: string) => (route === 'primary' ? 'default' : route);

export function inferenceEvents(r: LoggedInference, source: string): Events {
  const common = {
    'ce-specversion': '1.0',
    'ce-id': r.id,
    'ce-source': source,
    'ce-time': r.time,
    'ce-inferenceservicename': r.model,
    'ce-modelname': r.model,
    'ce-modelversion': r.version,
    'ce-endpoint': endpoint(r.route),
    'ce-component': 'predictor',
    'content-type': 'application/json',
  };
  const response =
    r.status === 200
      ? `{"predictions":[${r.predictions.join(',')}]}`
      : JSON.stringify({ error: r.error ?? `status ${r.status}`, status: r.status });
  return [
    { headers: { ...common, 'ce-type': CE_REQUEST }, body: `{"instances":[${r.inputs.join(',')}]}` },
    { headers: { ...common, 'ce-type': CE_RESPONSE }, body: response },
  ];
}

type Events = [Event, Event];

export class CloudEventsSink implements Sink<Events> {
  readonly name = 'http';
  /** Events of a record already accepted: a retried batch does not post them twice. */
  private readonly sent = new WeakMap<Events, number>();
  private readonly source: string;
  private readonly timeoutMs: number;
  private readonly concurrency: number;

  constructor(private readonly options: CloudEventsSinkOptions) {
    this.source = options.source ?? 'modelgate';
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.concurrency = options.concurrency ?? 8;
  }

  encode(record: LoggedInference): Events {
    return inferenceEvents(record, this.source);
  }

  async write(batch: readonly Events[]): Promise<void> {
    const todo = batch.filter((e) => (this.sent.get(e) ?? 0) < 2);
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (next < todo.length && failure === undefined) {
        const events = todo[next++];
        try {
          for (let i = this.sent.get(events) ?? 0; i < events.length; i++) {
            await this.post(events[i]);
            this.sent.set(events, i + 1);
          }
        } catch (err) {
          failure = err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, todo.length) }, worker));
    if (failure !== undefined) throw failure;
  }

  async close(): Promise<void> {}

  private async post(e: Event): Promise<void> {
    const res = await fetch(this.options.url, {
      method: 'POST',
      headers: e.headers,
      body: e.body,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status >= 300) throw new Error(`the log receiver answered ${res.status}`);
  }
}
