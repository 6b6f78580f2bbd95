/**
 * Kubernetes manifests for an image built by build-image: a Deployment, a Service, a
 * PodDisruptionBudget, and an autoscaler on what the server saturates on: CPU (a
 * HorizontalPodAutoscaler on metrics-server's figures), requests in flight (the same HPA on a
 * custom metric through the Prometheus adapter, plus a ServiceMonitor and the adapter rule), or
 * KEDA (a ScaledObject with a Prometheus trigger, which can scale to zero). As plain objects and
 * as YAML files.
 *
 * The probes map onto the server's endpoints (startup and readiness: /ready, which turns 200 once
 * the model is loaded and warmed up and 503 while shutting down; with several models, startup waits
 * for each one's /v2/models/{name}/ready; liveness: /livez, 200 while the process runs), and the
 * termination grace period covers the preStop pause plus the drain.
 */
// Types only (erased from the JS): object literals below are checked against the Kubernetes API
// types, so a misspelt field fails type-checking. kubernetes-models is a dev dependency.
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IService } from 'kubernetes-models/v1';
import { Document, isMap, isScalar } from 'yaml';
import { SERVE_DEFAULTS } from '../config/index.js';
import { GatewayError } from '../errors.js';
import { MODELGATE_VERSION } from '../version.js';
import { prometheusRule } from './alerts.js';
import { splitImageReference } from './auth.js';
import { IMAGE_USER } from './dockerfile.js';

export const AUTOSCALE_MODES = ['cpu', 'requests', 'keda'] as const;
export type AutoscaleMode = (typeof AUTOSCALE_MODES)[number];
/** `sleep`: the kubelet's own pause (Kubernetes >= 1.30). `exec`: `node -e` in the container, for older clusters. */
export const PRESTOP_MODES = ['sleep', 'exec'] as const;
export type PreStopMode = (typeof PRESTOP_MODES)[number];

/** The custom metric the `requests` HPA reads, as the Prometheus adapter rule names it. */
export const IN_FLIGHT_METRIC = 'modelgate_invocations_in_flight';
/** The Prometheus operator's governing Service in kube-prometheus's `monitoring` namespace. */
export const DEFAULT_PROMETHEUS_URL = 'http://prometheus-operated.monitoring.svc:9090';
/** Window of the rates: four samples at the ServiceMonitor's 15 s interval. */
const RATE_WINDOW = '1m';
const SCRAPE_INTERVAL = '15s';
export const LIVENESS_PATH = '/livez';
export const READINESS_PATH = '/ready';

export interface K8sResources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export interface K8sModel {
  name: string;
  version: string;
  uri: string;
  digest: string;
}

export interface K8sOptions {
  /** Resource name and app label; see `k8sName`. */
  name: string;
  /** The image to run, as pushed (`registry/repo:tag`). */
  image: string;
  /** The container port (the image's MODELGATE_PORT). */
  port: number;
  model: K8sModel;
  /** Every model of a several-model image (`model` is then the first). */
  models?: readonly K8sModel[];
  namespace?: string;
  /** The server's drain time on SIGTERM (MODELGATE_DRAIN_SECONDS). @default 30 */
  drainSeconds?: number;
  /**
   * Seconds the pod keeps serving after it is told to stop, while endpoints and load balancers
   * stop sending it traffic. @default 5
   */
  preStopSeconds?: number;
  /** How the pause is made. @default 'sleep' */
  preStop?: PreStopMode;
  /** @default 'cpu' */
  autoscale?: AutoscaleMode;
  /** @default 2; 0 only with `keda` */
  minReplicas?: number;
  /** @default 10 */
  maxReplicas?: number;
  /** Average CPU use (percent of requests) the autoscaler aims for (cpu; also a second metric of requests). @default 70 */
  targetCpuPercent?: number;
  /** Average /invocations requests in flight per pod the autoscaler aims for (requests, keda). @default 8 */
  targetInFlight?: number;
  /** The Prometheus KEDA queries. @default DEFAULT_PROMETHEUS_URL */
  prometheusUrl?: string;
  /** Write a ServiceMonitor. @default true unless autoscale is cpu */
  serviceMonitor?: boolean;
  /** @default requests 500m / 256Mi, limits 1 CPU / 512Mi */
  resources?: K8sResources;
}

export const DEFAULT_K8S_RESOURCES: K8sResources = {
  requests: { cpu: '500m', memory: '256Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};
export const DEFAULT_TARGET_CPU_PERCENT = 70;
export const DEFAULT_TARGET_IN_FLIGHT = 8;

/** Seconds after the drain for unloading the model and exiting. */
const EXIT_MARGIN_SECONDS = 10;

/** A DNS-1035 label from the image's repository name (`registry/team/iris-classifier:1` → `iris-classifier`). */
export function k8sName(image: string): string {
  const repo = splitImageReference(image).repository;
  let name = repo
    .slice(repo.lastIndexOf('/') + 1)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(name)) name = `model-${name}`;
  return name.slice(0, 63).replace(/-+$/, '');
}

/** A label value (≤ 63 chars of [A-Za-z0-9-_.], alphanumeric at both ends), or undefined if the text cannot be one. */
function labelValue(s: string): string | undefined {
  return /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(s) ? s : undefined;
}

/** The operator's CRD (monitoring.coreos.com/v1), the fields written here. */
export interface ServiceMonitor {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'ServiceMonitor';
  metadata: Record<string, unknown>;
  spec: {
    selector: { matchLabels: Record<string, string> };
    endpoints: { port: string; path: string; interval: string; scrapeTimeout: string }[];
  };
}

/** KEDA's CRD (keda.sh/v1alpha1), the fields written here. */
export interface ScaledObject {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  metadata: Record<string, unknown>;
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    pollingInterval: number;
    cooldownPeriod: number;
    advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: number } } } };
    triggers: { type: 'prometheus'; metricType: 'AverageValue'; metadata: Record<string, string> }[];
  };
}

export interface K8sManifests {
  deployment: Record<string, unknown>;
  service: Record<string, unknown>;
  podDisruptionBudget: Record<string, unknown>;
  /** cpu and requests. */
  horizontalPodAutoscaler?: Record<string, unknown>;
  /** keda. */
  scaledObject?: Record<string, unknown>;
  serviceMonitor?: Record<string, unknown>;
  /** With the ServiceMonitor: alerts on error rate, p99 latency, drift and a dropping inference log. */
  prometheusRule?: Record<string, unknown>;
}

/**
 * Average number of /invocations requests in flight, by Little's law: the rate of the summed
 * request durations (seconds of requests per second). Exact over the window, unlike samples of the
 * in-flight gauge taken once a scrape (which also counts the scrape itself), and blind to probes
 * and scrapes. `matchers` are extra label matchers, e.g. `service="iris"`.
 */
export function inFlightQuery(matchers: readonly string[]): string {
  const labels = [...matchers, 'route="/invocations"'].join(',');
  return `sum(rate(modelgate_http_request_duration_seconds_sum{${labels}}[${RATE_WINDOW}]))`;
}

/**
 * The prometheus-adapter rule that serves IN_FLIGHT_METRIC per pod to the custom metrics API.
 * It is not a manifest: it goes into the adapter's own configuration (see docs/images-k8s.md, "The adapter rule").
 */
export function prometheusAdapterRule(): { rules: Record<string, unknown>[] } {
  return {
    rules: [
      {
        seriesQuery: 'modelgate_http_request_duration_seconds_sum{route="/invocations",namespace!="",pod!=""}',
        resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
        name: { matches: '^modelgate_http_request_duration_seconds_sum$', as: IN_FLIGHT_METRIC },
        metricsQuery: `sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[${RATE_WINDOW}]))`,
      },
    ],
  };
}

function checkOptions(o: K8sOptions, autoscale: AutoscaleMode, minReplicas: number): void {
  if (!(AUTOSCALE_MODES as readonly string[]).includes(autoscale))
    throw new GatewayError('INVALID_PARAMETER_VALUE', `autoscale must be ${AUTOSCALE_MODES.join(', ')}, got '${String(autoscale)}'`);
  if (o.preStop !== undefined && !(PRESTOP_MODES as readonly string[]).includes(o.preStop))
    throw new GatewayError('INVALID_PARAMETER_VALUE', `preStop must be ${PRESTOP_MODES.join(' or ')}, got '${String(o.preStop)}'`);
  if (!Number.isInteger(minReplicas) || minReplicas < 0)
    throw new GatewayError('INVALID_PARAMETER_VALUE', 'minReplicas must be an integer >= 0');
  // An HPA cannot go below one replica (HPAScaleToZero is an alpha gate); KEDA scales to zero itself.
  if (minReplicas === 0 && autoscale !== 'keda')
    throw new GatewayError(
      'INVALID_PARAMETER_VALUE',
      'minReplicas 0 needs autoscale keda: a HorizontalPodAutoscaler keeps at least one replica',
    );
  for (const [k, v] of [
    ['targetCpuPercent', o.targetCpuPercent],
    ['targetInFlight', o.targetInFlight],
  ] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new GatewayError('INVALID_PARAMETER_VALUE', `${k} must be > 0`);
  }
  if (o.targetCpuPercent !== undefined && !Number.isInteger(o.targetCpuPercent))
    throw new GatewayError('INVALID_PARAMETER_VALUE', 'targetCpuPercent must be a whole percentage');
}

/** A Kubernetes quantity for a positive number (integers as such, fractions in milli-units). */
function quantity(n: number): string {
  return Number.isInteger(n) ? String(n) : `${Math.round(n * 1000)}m`;
}

/**
 * /ready turns 200 once every model has been tried, and one that failed leaves the others serving;
 * a pod of a several-model image must not take traffic without all of them, so its start waits for
 * every model's own V2 readiness. An exec probe (node, the image has no curl), only while starting.
 */
function startupCheck(o: K8sOptions, http: { path: string; port: string; scheme: 'HTTP' }) {
  if (o.models === undefined || o.models.length < 2) return { httpGet: http };
  const paths = o.models.map((m) => `/v2/models/${encodeURIComponent(m.name)}/ready`);
  const script =
    `const p=process.env.MODELGATE_PORT||${o.port};` +
    `Promise.all(${JSON.stringify(paths)}.map(u=>fetch('http://127.0.0.1:'+p+u).then(r=>r.ok)))` +
    '.then(a=>process.exit(a.every(Boolean)?0:1),()=>process.exit(1))';
  return { exec: { command: ['node', '-e', script] } };
}

function modelAnnotations(o: K8sOptions): Record<string, string> {
  if (o.models !== undefined && o.models.length > 1) {
    return {
      'modelgate.io/models': JSON.stringify(o.models.map((m) => ({ name: m.name, version: m.version, uri: m.uri, digest: m.digest }))),
    };
  }
  return { 'modelgate.io/model-uri': o.model.uri, 'modelgate.io/model-name': o.model.name, 'modelgate.io/model-digest': o.model.digest };
}

export function k8sManifests(o: K8sOptions): K8sManifests {
  const autoscale = o.autoscale ?? 'cpu';
  const drain = o.drainSeconds ?? SERVE_DEFAULTS.drainSeconds;
  const preStopSeconds = o.preStopSeconds ?? 5;
  const minReplicas = o.minReplicas ?? 2;
  checkOptions(o, autoscale, minReplicas);
  const maxReplicas = Math.max(o.maxReplicas ?? 10, minReplicas, 1);
  const monitored = o.serviceMonitor ?? autoscale !== 'cpu';
  const selector = { 'app.kubernetes.io/name': o.name, 'app.kubernetes.io/instance': o.name };
  const several = (o.models?.length ?? 0) > 1;
  // Several models have no one version to put in the label.
  const version = several ? undefined : labelValue(o.model.version);
  const labels: Record<string, string> = {
    ...selector,
    'app.kubernetes.io/component': 'model-server',
    'app.kubernetes.io/managed-by': 'modelgate',
    ...(version === undefined ? {} : { 'app.kubernetes.io/version': version }),
  };
  const annotations = {
    ...modelAnnotations(o),
    'modelgate.io/generated-by': `modelgate ${MODELGATE_VERSION}`,
  };
  const metadata = { name: o.name, ...(o.namespace === undefined ? {} : { namespace: o.namespace }), labels, annotations };
  const http = { path: READINESS_PATH, port: 'http', scheme: 'HTTP' } as const;
  // The image has no shell and no sleep binary, so the exec form runs node.
  const preStop =
    o.preStop === 'exec'
      ? { exec: { command: ['node', '-e', `setTimeout(() => {}, ${preStopSeconds * 1000})`] } }
      : { sleep: { seconds: preStopSeconds } };
  // With a ServiceMonitor, annotation-based scraping as well would store every series twice and double the sums.
  const scrapeAnnotations: Record<string, string> = monitored
    ? {}
    : { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(o.port), 'prometheus.io/path': '/metrics' };

  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      // No `replicas`: the autoscaler owns the count (an applied value would reset it).
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations: { ...annotations, ...scrapeAnnotations } },
        spec: {
          terminationGracePeriodSeconds: preStopSeconds + drain + EXIT_MARGIN_SECONDS,
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: IMAGE_USER,
            runAsGroup: IMAGE_USER,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: selector },
            },
          ],
          containers: [
            {
              name: 'model-server',
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              ports: [{ name: 'http', containerPort: o.port, protocol: 'TCP' }],
              env: [
                { name: 'MODELGATE_PORT', value: String(o.port) },
                { name: 'MODELGATE_DRAIN_SECONDS', value: String(drain) },
              ],
              // Loading and warming the model may take a while; liveness and readiness start after it.
              startupProbe: { ...startupCheck(o, http), periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 90 },
              readinessProbe: { httpGet: http, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
              livenessProbe: { httpGet: { ...http, path: LIVENESS_PATH }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
              lifecycle: { preStop },
              resources: o.resources ?? DEFAULT_K8S_RESOURCES,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  } satisfies IDeployment;

  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
  } satisfies IService;

  const podDisruptionBudget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata,
    // maxUnavailable rather than minAvailable: node drains proceed one pod at a time at any replica count.
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  } satisfies IPodDisruptionBudget;

  const targetCpu = o.targetCpuPercent ?? DEFAULT_TARGET_CPU_PERCENT;
  const targetInFlight = o.targetInFlight ?? DEFAULT_TARGET_IN_FLIGHT;
  const cpuMetric = {
    type: 'Resource',
    resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: targetCpu } },
  } as const;
  const inFlightMetric = {
    type: 'Pods',
    pods: { metric: { name: IN_FLIGHT_METRIC }, target: { type: 'AverageValue', averageValue: quantity(targetInFlight) } },
  } as const;
  const scaleDown = { stabilizationWindowSeconds: 300 };
  const scaleTargetRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: o.name };

  const horizontalPodAutoscaler =
    autoscale === 'keda'
      ? undefined
      : ({
          apiVersion: 'autoscaling/v2',
          kind: 'HorizontalPodAutoscaler',
          metadata,
          spec: {
            scaleTargetRef,
            minReplicas,
            maxReplicas,
            // With several metrics the HPA takes the largest replica count any of them asks for.
            metrics: autoscale === 'requests' ? [inFlightMetric, cpuMetric] : [cpuMetric],
            behavior: { scaleDown },
          },
        } satisfies IHorizontalPodAutoscaler);

  const serviceMonitor = monitored
    ? ({
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata,
        spec: {
          selector: { matchLabels: selector },
          endpoints: [{ port: 'http', path: '/metrics', interval: SCRAPE_INTERVAL, scrapeTimeout: '10s' }],
        },
      } satisfies ServiceMonitor)
    : undefined;

  const matchers = [...(o.namespace === undefined ? [] : [`namespace="${o.namespace}"`]), `service="${o.name}"`];
  const scaledObject =
    autoscale === 'keda'
      ? ({
          apiVersion: 'keda.sh/v1alpha1',
          kind: 'ScaledObject',
          metadata,
          spec: {
            scaleTargetRef,
            minReplicaCount: minReplicas,
            maxReplicaCount: maxReplicas,
            pollingInterval: 15,
            // Only scaling to zero waits for it; above one replica the HPA's own behaviour applies.
            cooldownPeriod: 300,
            advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown } } },
            triggers: [
              {
                type: 'prometheus',
                metricType: 'AverageValue',
                metadata: {
                  serverAddress: o.prometheusUrl ?? DEFAULT_PROMETHEUS_URL,
                  query: inFlightQuery(matchers),
                  threshold: String(targetInFlight),
                  activationThreshold: '0',
                },
              },
            ],
          },
        } satisfies ScaledObject)
      : undefined;

  return {
    deployment,
    service,
    podDisruptionBudget,
    ...(horizontalPodAutoscaler === undefined ? {} : { horizontalPodAutoscaler }),
    ...(scaledObject === undefined ? {} : { scaledObject }),
    ...(serviceMonitor === undefined ? {} : { serviceMonitor, prometheusRule: prometheusRule(o.name, metadata, matchers) }),
  };
}

type Path = readonly (string | number)[];

/**
 * YAML without anchors or aliases (objects shared between fields are written out each time: yq and
 * kustomize trip on anchors), with comments above the keys at `comments`' paths.
 */
export function toYaml(value: unknown, comments: readonly { path: Path; text: string }[] = []): string {
  const doc = new Document(value, { aliasDuplicateObjects: false });
  for (const { path, text } of comments) {
    const parent = doc.getIn(path.slice(0, -1), true);
    const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]) : undefined;
    if (pair === undefined || !isScalar(pair.key)) throw new Error(`No ${path.join('.')} to comment on`);
    pair.key.commentBefore = text
      .split('\n')
      .map((l) => ` ${l}`)
      .join('\n');
  }
  return doc.toString({ lineWidth: 0 });
}

const CONTAINER: Path = ['spec', 'template', 'spec', 'containers', 0];

function deploymentComments(o: K8sOptions): { path: Path; text: string }[] {
  const preStop =
    o.preStop === 'exec'
      ? "preStop runs node for the pause (the image has no shell and no sleep binary); on Kubernetes >= 1.30\nthe kubelet's own `sleep` action does the same without a process (modelgate build-image --prestop sleep)."
      : 'preStop.sleep needs Kubernetes >= 1.30 (PodLifecycleSleepAction: beta and on by default in 1.30, alpha in 1.29).\nOlder clusters refuse it: use --prestop exec (node -e, the image has no shell and no sleep binary).';
  return [
    {
      path: [...CONTAINER, 'livenessProbe'],
      text: `Liveness: ${LIVENESS_PATH} answers 200 while the process runs; readiness and startup wait for the model on ${READINESS_PATH}.`,
    },
    { path: [...CONTAINER, 'lifecycle'], text: preStop },
  ];
}

function scaledObjectComments(o: K8sOptions): { path: Path; text: string }[] {
  const zero =
    (o.minReplicas ?? 2) === 0
      ? 'minReplicaCount 0: with no pod the Service has no endpoints, so requests fail until one is ready: scheduling, the image pull\n' +
        'on a node without it (the model is inside the image, so there is no separate download), start, model load and warm-up, and\n' +
        "the startup probe. This trigger reads the pods' own metric, which does not exist while none runs, so it cannot wake the\n" +
        'Deployment from zero: add a trigger on a metric seen upstream (the ingress controller) or use the KEDA HTTP add-on.'
      : 'minReplicaCount 0 would allow scaling to zero (modelgate build-image --min-replicas 0; see docs/images-k8s.md for what zero means).';
  return [
    { path: ['spec', 'minReplicaCount'], text: zero },
    {
      path: ['spec', 'triggers'],
      text: `Average /invocations requests in flight per replica (Little's law over ${RATE_WINDOW}), scraped through servicemonitor.yaml.`,
    },
  ];
}

/**
 * The manifests as YAML files (`kubectl apply -f <dir>`): deployment.yaml, service.yaml, hpa.yaml
 * or scaledobject.yaml, pdb.yaml, and servicemonitor.yaml as the options ask; with `requests`,
 * also the Prometheus adapter rule as prometheus-adapter-rule.yaml.example, which kubectl skips.
 */
export function k8sFiles(o: K8sOptions): { path: string; content: string }[] {
  const m = k8sManifests(o);
  const baked = o.models !== undefined && o.models.length > 1 ? o.models : [o.model];
  const header = `# Generated by modelgate ${MODELGATE_VERSION} for ${baked.map((m) => `${m.uri} (${m.digest})`).join(', ')} in ${o.image}.\n`;
  const file = (path: string, doc: unknown, comments: readonly { path: Path; text: string }[] = [], note = '') => ({
    path,
    content: header + note + toYaml(doc, comments),
  });
  const files = [file('deployment.yaml', m.deployment, deploymentComments(o)), file('service.yaml', m.service)];
  if (m.horizontalPodAutoscaler !== undefined) {
    const note =
      o.autoscale === 'requests'
        ? `# ${IN_FLIGHT_METRIC} comes from the Prometheus adapter: add prometheus-adapter-rule.yaml.example to its rules.\n`
        : '';
    files.push(file('hpa.yaml', m.horizontalPodAutoscaler, [], note));
  }
  if (m.scaledObject !== undefined) files.push(file('scaledobject.yaml', m.scaledObject, scaledObjectComments(o)));
  files.push(file('pdb.yaml', m.podDisruptionBudget));
  if (m.serviceMonitor !== undefined) {
    const note = '# For the Prometheus operator; its Prometheus must select this ServiceMonitor (e.g. a release: label).\n';
    files.push(file('servicemonitor.yaml', m.serviceMonitor, [], note));
    const rulesNote =
      '# For the Prometheus operator; its Prometheus must select this PrometheusRule (ruleSelector, e.g. a release: label).\n';
    files.push(file('prometheusrule.yaml', m.prometheusRule, [], rulesNote));
  }
  if (o.autoscale === 'requests') {
    files.push({
      path: 'prometheus-adapter-rule.yaml.example',
      content:
        header +
        '# Not a manifest (kubectl apply -f DIR skips this file): a rule for prometheus-adapter, which serves\n' +
        `# ${IN_FLIGHT_METRIC} per pod to the custom metrics API for hpa.yaml. Add the entry under \`rules:\` to the\n` +
        "# adapter's config.yaml (Helm chart prometheus-community/prometheus-adapter: values `rules.custom`). It needs the\n" +
        '# namespace and pod labels the Prometheus operator puts on series scraped through servicemonitor.yaml.\n' +
        toYaml(prometheusAdapterRule()),
    });
  }
  return files;
}
