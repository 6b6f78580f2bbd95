/**
 * Kubernetes manifests for an image built by build-image: a Deployment, a Service, a
 * HorizontalPodAutoscaler and a PodDisruptionBudget, as plain objects and as YAML files.
 * The probes map onto the server's endpoints (startup and readiness: /ready, which turns 200 once
 * the model is loaded and warmed up and 503 while shutting down; liveness: /ping), and the
 * termination grace period covers the preStop pause plus the server's drain time.
 */
// Types only (erased from the JS): object literals below are checked against the Kubernetes API
// types, so a misspelt field fails type-checking. kubernetes-models is a dev dependency.
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IService } from 'kubernetes-models/v1';
import { stringify } from 'yaml';
import { SERVE_DEFAULTS } from '../config/index.js';
import { MODELGATE_VERSION } from '../serve/app.js';
import { splitImageReference } from './auth.js';
import { IMAGE_USER } from './dockerfile.js';

export interface K8sResources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export interface K8sOptions {
  /** Resource name and app label; see `k8sName`. */
  name: string;
  /** The image to run, as pushed (`registry/repo:tag`). */
  image: string;
  /** The container port (the image's MODELGATE_PORT). */
  port: number;
  model: { name: string; version: string; uri: string; digest: string };
  namespace?: string;
  /** The server's drain time on SIGTERM (MODELGATE_DRAIN_SECONDS). @default 30 */
  drainSeconds?: number;
  /**
   * Seconds the pod keeps serving after it is told to stop, while endpoints and load balancers
   * stop sending it traffic (the kubelet's sleep action; no shell in the image). @default 5
   */
  preStopSeconds?: number;
  /** @default 2 */
  minReplicas?: number;
  /** @default 10 */
  maxReplicas?: number;
  /** Average CPU use (percent of requests) the autoscaler aims for. @default 70 */
  targetCpuPercent?: number;
  /** @default requests 500m / 256Mi, limits 1 CPU / 512Mi */
  resources?: K8sResources;
}

export const DEFAULT_K8S_RESOURCES: K8sResources = {
  requests: { cpu: '500m', memory: '256Mi' },
  limits: { cpu: '1', memory: '512Mi' },
};

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

export interface K8sManifests {
  deployment: Record<string, unknown>;
  service: Record<string, unknown>;
  horizontalPodAutoscaler: Record<string, unknown>;
  podDisruptionBudget: Record<string, unknown>;
}

export function k8sManifests(o: K8sOptions): K8sManifests {
  const drain = o.drainSeconds ?? SERVE_DEFAULTS.drainSeconds;
  const preStop = o.preStopSeconds ?? 5;
  const minReplicas = o.minReplicas ?? 2;
  const maxReplicas = Math.max(o.maxReplicas ?? 10, minReplicas);
  const selector = { 'app.kubernetes.io/name': o.name, 'app.kubernetes.io/instance': o.name };
  const version = labelValue(o.model.version);
  const labels: Record<string, string> = {
    ...selector,
    'app.kubernetes.io/component': 'model-server',
    'app.kubernetes.io/managed-by': 'modelgate',
    ...(version === undefined ? {} : { 'app.kubernetes.io/version': version }),
  };
  const annotations = {
    'modelgate.io/model-uri': o.model.uri,
    'modelgate.io/model-name': o.model.name,
    'modelgate.io/model-digest': o.model.digest,
    'modelgate.io/generated-by': `modelgate ${MODELGATE_VERSION}`,
  };
  const metadata = { name: o.name, ...(o.namespace === undefined ? {} : { namespace: o.namespace }), labels, annotations };
  const http = { path: '/ready', port: 'http', scheme: 'HTTP' } as const;

  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      // No `replicas`: the HorizontalPodAutoscaler owns the count (an applied value would reset it).
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels,
          annotations: {
            ...annotations,
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(o.port),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: {
          terminationGracePeriodSeconds: preStop + drain + EXIT_MARGIN_SECONDS,
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
              startupProbe: { httpGet: http, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 90 },
              readinessProbe: { httpGet: http, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
              livenessProbe: { httpGet: { ...http, path: '/ping' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
              lifecycle: { preStop: { sleep: { seconds: preStop } } },
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

  const horizontalPodAutoscaler = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata,
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: o.name },
      minReplicas,
      maxReplicas,
      metrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: o.targetCpuPercent ?? 70 } } },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    },
  } satisfies IHorizontalPodAutoscaler;

  const podDisruptionBudget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata,
    // maxUnavailable rather than minAvailable: node drains proceed one pod at a time at any replica count.
    spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
  } satisfies IPodDisruptionBudget;

  return { deployment, service, horizontalPodAutoscaler, podDisruptionBudget };
}

/** The manifests as YAML files: deployment.yaml, service.yaml, hpa.yaml, pdb.yaml (`kubectl apply -f <dir>`). */
export function k8sFiles(o: K8sOptions): { path: string; content: string }[] {
  const m = k8sManifests(o);
  const header = `# Generated by modelgate ${MODELGATE_VERSION} for ${o.model.uri} (${o.model.digest}) in ${o.image}.\n`;
  const file = (path: string, doc: Record<string, unknown>) => ({ path, content: header + stringify(doc, { lineWidth: 0 }) });
  return [
    file('deployment.yaml', m.deployment),
    file('service.yaml', m.service),
    file('hpa.yaml', m.horizontalPodAutoscaler),
    file('pdb.yaml', m.podDisruptionBudget),
  ];
}
