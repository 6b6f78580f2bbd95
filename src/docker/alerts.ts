/**
 * Alerts for a served model as a PrometheusRule (the Prometheus operator's CRD), on the series the
 * ServiceMonitor scrapes: server errors as a share of predictions, p99 request latency, feature
 * drift from the reference profile, and inference log records being dropped.
 */

/** The operator's CRD (monitoring.coreos.com/v1), the fields written here. */
export type PrometheusRule = {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'PrometheusRule';
  metadata: Record<string, unknown>;
  spec: {
    groups: {
      name: string;
      rules: { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> }[];
    }[];
  };
};

export interface AlertThresholds {
  /** Share of predictions answered with a server error. @default 0.05 */
  errorRate?: number;
  /** Seconds. @default 1 */
  p99Latency?: number;
  /** PSI. @default 0.25 */
  drift?: number;
}

/** Rates over five minutes: twenty scrapes at 15 s, enough to ride out one slow scrape. */
const WINDOW = '5m';

export function prometheusRule(
  name: string,
  metadata: Record<string, unknown>,
  matchers: readonly string[],
  t: AlertThresholds = {},
): PrometheusRule {
  const m = matchers.join(',');
  const sel = (extra = '') => `{${[m, extra].filter(Boolean).join(',')}}`;
  const errorRate = t.errorRate ?? 0.05;
  const p99 = t.p99Latency ?? 1;
  const drift = t.drift ?? 0.25;
  const rule = (alert: string, expr: string, forDuration: string, severity: string, summary: string, description: string) => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary, description },
  });
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata,
    spec: {
      groups: [
        {
          name: `${name}.modelgate`,
          rules: [
            rule(
              'ModelgateHighErrorRate',
              `sum by (model, version) (rate(modelgate_predictions_total${sel('outcome="server_error"')}[${WINDOW}])) / sum by (model, version) (rate(modelgate_predictions_total${sel()}[${WINDOW}])) > ${errorRate}`,
              '5m',
              'critical',
              `${name}: more than ${errorRate * 100} % of predictions fail`,
              'Server errors ({{ $value | humanizePercentage }}) for {{ $labels.model }} version {{ $labels.version }}; the server log has the causes under their request ids.',
            ),
            rule(
              'ModelgateHighP99Latency',
              `histogram_quantile(0.99, sum by (le, model, version) (rate(modelgate_request_duration_seconds_bucket${sel()}[${WINDOW}]))) > ${p99}`,
              '10m',
              'warning',
              `${name}: p99 prediction latency over ${p99} s`,
              '{{ $labels.model }} version {{ $labels.version }} answers 1 % of requests slower than {{ $value | humanizeDuration }}.',
            ),
            rule(
              'ModelgateFeatureDrift',
              `max by (model, version, feature) (modelgate_drift${sel('stat="psi"')}) > ${drift}`,
              '15m',
              'warning',
              `${name}: input or prediction drift (PSI over ${drift})`,
              '{{ $labels.feature }} of {{ $labels.model }} version {{ $labels.version }} has moved from its reference profile (PSI {{ $value | printf "%.2f" }}): check the inputs\' source, or retrain on the inference log.',
            ),
            rule(
              'ModelgateInferenceLogDropping',
              `sum by (sink) (increase(modelgate_log_records_dropped_total${sel()}[15m])) > 0`,
              '15m',
              'info',
              `${name}: inference log records are being dropped`,
              'The {{ $labels.sink }} sink is slow, down or failing; predictions are unaffected, the log has gaps (see /ready).',
            ),
          ],
        },
      ],
    },
  };
}
