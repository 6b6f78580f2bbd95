/**
 * Spans sent to an OTLP/HTTP (JSON) endpoint with the maintained OpenTelemetry packages. Imported
 * dynamically and only when tracing is configured, so a server without it loads none of them
 * (tools/bundle.ts keeps it, with the packages, out of dist/modelgate.mjs).
 * No global provider is registered: the spans are modelgate's own, with explicit parents.
 */
import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, HrTime, Span, Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator, millisToHrTime } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
// Types only: the one-file build makes this module a file of its own (dist/otel.mjs), which must not carry a second copy of span.ts's state.
import type { RequestSpan, RequestTracer } from './span.js';

export interface OtlpOptions {
  /** Where the spans are posted: the collector's `/v1/traces` (see tracesUrl). */
  readonly url: string;
  readonly serviceName: string;
  readonly serviceVersion: string;
  /** Share of requests traced when the caller's traceparent does not decide. @default 1 */
  readonly sampleRatio?: number;
}

export function otlpTracer(options: OtlpOptions): RequestTracer {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': options.serviceVersion }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.url }))],
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio ?? 1) }),
  });
  const tracer = provider.getTracer('modelgate', options.serviceVersion);
  const propagator = new W3CTraceContextPropagator();
  return {
    start(route, method, header) {
      const carrier: Record<string, string> = {};
      for (const name of ['traceparent', 'tracestate']) {
        const v = header(name);
        if (v) carrier[name] = v;
      }
      const parent = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
      const at = requestClock();
      const span = tracer.startSpan(
        `${method} ${route}`,
        { kind: SpanKind.SERVER, startTime: at(performance.now()), attributes: { 'http.request.method': method, 'http.route': route } },
        parent,
      );
      const ctx = trace.setSpan(parent, span);
      // A request not sampled builds no phases; its traceparent (flag 00) still goes to MLflow.
      return span.isRecording() ? requestSpan(tracer, span, ctx, propagator, at) : unsampled(ctx, propagator);
    },
    shutdown: () => provider.shutdown(),
  };
}

/**
 * performance.now() readings as wall-clock times, with one correction for the whole request: the
 * SDK corrects each span on its own from Date.now(), whose millisecond steps would put a phase
 * outside its request by up to a millisecond.
 */
function requestClock(): (t: number) => HrTime {
  const base = Date.now() - performance.now();
  return (t) => millisToHrTime(base + t);
}

function unsampled(ctx: Context, propagator: W3CTraceContextPropagator): RequestSpan {
  return {
    phase: () => undefined,
    attr: () => undefined,
    inject: (headers) => propagator.inject(ctx, headers, defaultTextMapSetter),
    end: () => undefined,
  };
}

function requestSpan(
  tracer: Tracer,
  span: Span,
  ctx: Context,
  propagator: W3CTraceContextPropagator,
  at: (t: number) => HrTime,
): RequestSpan {
  return {
    phase(name, start, end, attributes) {
      tracer.startSpan(name, { startTime: at(start), ...(attributes === undefined ? {} : { attributes }) }, ctx).end(at(end));
    },
    attr(key, value) {
      span.setAttribute(key, value);
    },
    inject(headers) {
      propagator.inject(ctx, headers, defaultTextMapSetter);
    },
    end(status) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(at(performance.now()));
    },
  };
}
