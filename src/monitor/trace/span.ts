/**
 * A request's trace as the serving code sees it: phases recorded after the fact from
 * performance.now() bounds, so a hook costs one optional call and nothing when tracing is off
 * (the span is undefined and every hook is `span?.…`). The OpenTelemetry side is in otel.ts,
 * imported only when an endpoint is configured.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestSpan {
  /** A finished child phase: `start` and `end` are performance.now() readings. */
  phase(name: string, start: number, end: number, attributes?: Readonly<Record<string, number>>): void;
  attr(key: string, value: string | number): void;
  /** The W3C headers that make an outgoing call this span's child. */
  inject(headers: Record<string, string>): void;
  end(status: number): void;
}

export interface RequestTracer {
  /**
   * Whether a request can call the registry (a model loaded on demand), so that its span must
   * follow the request's work to that call. That takes an AsyncLocalStorage, which in Node 20
   * turns on promise hooks for the whole process: +60 µs per iris request, traced or not.
   */
  readonly followsIntoRegistry?: boolean;
  /** `traceparent` (and `tracestate`) from the caller make the span their child. */
  start(route: string, method: string, header: (name: string) => string | null | undefined): RequestSpan;
  /** Sends what is buffered; later spans are dropped. */
  shutdown(): Promise<void>;
}

/** The standard's rule for OTEL_EXPORTER_OTLP_ENDPOINT: the base URL gets the signal's path. */
export function tracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}

let otelLoaded = false;

/** Whether the OpenTelemetry side has been imported in this process (it never is with tracing off). */
export function tracingLoaded(): boolean {
  return otelLoaded;
}

/** Called by the one place that imports otel.ts, once it has. */
export function markTracingLoaded(): void {
  otelLoaded = true;
}

/** The span of the request whose work is running; only set while tracing is on. */
const current = new AsyncLocalStorage<RequestSpan>();

export function withSpan<T>(span: RequestSpan, work: () => T): T {
  return current.run(span, work);
}

/** Adds the running request's trace headers to an outgoing call's (a registry call made while serving it). */
export function traceHeaders(headers: Record<string, string>): Record<string, string> {
  current.getStore()?.inject(headers);
  return headers;
}
