/**
 * Every command's flags and arguments. Kept apart from the handlers so `--help` and the command
 * list load nothing heavy; serve's flags come straight from the option table.
 */
import { SERVE_OPTIONS } from '../config/index.js';
import { type CommandSpec, type FlagSpec, tableFlag } from './spec.js';

const plain = { group: undefined } as const;
const registry = tableFlag('registryUri', plain);
const json: FlagSpec = { key: 'json', flag: 'json', kind: 'bool', doc: 'print JSON instead of text' };
const modelUri = (doc: string): FlagSpec => ({ key: 'modelUri', flag: 'model-uri', short: 'm', kind: 'string', arg: 'URI', doc });

const MODEL_URIS = `Model URIs: models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/latest (also MLflow
stages, models:/<name>/Production, and logged models, models:/m-<id>), runs:/<run_id>/<path> (an
MLflow server's run artifacts), a model directory, or a file:// URI of one. Cloud storage URIs
(s3://, gs://, …) are refused: put the model in a registry or a local directory.`;

export const SERVE: CommandSpec = {
  name: 'serve',
  summary: "Serve a model behind MLflow's scoring protocol (/invocations) and the Open Inference Protocol (/v2), following its alias.",
  flags: SERVE_OPTIONS.filter((o) => 'flag' in o).map((o) => tableFlag(o.key)),
  notes: `${MODEL_URIS}

Flags win over the environment, which wins over the routes file. Stops gracefully on SIGTERM,
SIGINT, SIGHUP and SIGUSR2. Every option and variable: docs/configuration.md.`,
};

export const DEMO: CommandSpec = {
  name: 'demo',
  summary: 'Register the bundled iris model (examples/iris) as models:/iris@champion if needed, and serve it (what `npm start` runs).',
  flags: [
    tableFlag('port', plain),
    tableFlag('host', plain),
    { ...registry, doc: 'registry to register and serve it from (the demo stays local: MLflow variables are ignored)' },
  ],
};

export const PREDICT: CommandSpec = {
  name: 'predict',
  summary: 'Score a file (stdin by default) exactly as /invocations scores a body; write {"predictions": …} (stdout by default).',
  flags: [
    modelUri('model to score with'),
    { key: 'inputPath', flag: 'input-path', short: 'i', kind: 'string', arg: 'FILE', doc: 'request body to score (default: stdin)' },
    {
      key: 'contentType',
      flag: 'content-type',
      short: 't',
      kind: 'enum',
      values: ['json', 'csv'],
      default: 'json',
      arg: 'TYPE',
      doc: 'how the input is written',
    },
    {
      key: 'outputPath',
      flag: 'output-path',
      short: 'o',
      kind: 'string',
      arg: 'FILE',
      doc: 'where to write the predictions (default: stdout)',
    },
    registry,
  ],
  notes: MODEL_URIS,
};

export const REGISTER: CommandSpec = {
  name: 'registry register',
  summary: 'Copy a model directory into the registry as a new immutable version (loaded and its example scored first); prints the version.',
  positionals: [{ name: 'dir', doc: 'an MLflow model directory, or a folder with a single .onnx file or a TF.js model.json' }],
  flags: [
    { key: 'name', flag: 'name', kind: 'string', arg: 'NAME', doc: 'registered model name (required)' },
    { key: 'alias', flag: 'alias', kind: 'string', arg: 'ALIAS', doc: 'point this alias at the new version' },
    { key: 'description', flag: 'description', kind: 'string', arg: 'TEXT', doc: 'version description' },
    { key: 'tags', flag: 'tag', kind: 'string', arg: 'KEY=VALUE', repeatable: true, doc: 'version tag' },
    {
      key: 'skipValidation',
      flag: 'skip-validation',
      kind: 'bool',
      doc: 'do not load the model and score its serving example first (not recommended: a model that cannot serve is then found at serve time)',
    },
    { ...tableFlag('loadTimeoutSeconds', plain), env: undefined, doc: 'deadline for loading the model and scoring its example' },
    {
      key: 'reference',
      flag: 'reference',
      kind: 'string',
      arg: 'FILE',
      doc: "a .csv or .parquet dataset whose profile is stored with the version as its drift reference (covered by the version's digests)",
    },
    registry,
    json,
  ],
};

export const LIST: CommandSpec = {
  name: 'registry list',
  summary: 'Registered models with their latest version and aliases.',
  flags: [registry, json],
};

export const VERSIONS: CommandSpec = {
  name: 'registry versions',
  summary: 'The versions of a model.',
  positionals: [{ name: 'name', doc: 'registered model name' }],
  flags: [registry, json],
};

export const SHOW: CommandSpec = {
  name: 'registry show',
  summary: 'One version as JSON: aliases, flavour, source, tags, file digests; from MLflow also its stage and run id.',
  positionals: [{ name: 'model-uri', doc: 'models:/name/version, models:/name@alias, models:/name/latest, …' }],
  flags: [registry],
};

export const DELETE: CommandSpec = {
  name: 'registry delete',
  summary:
    "Delete a version (MLflow's delete_model_version), or a model with no versions left (delete_registered_model). A version an alias points at, or a model that still has versions, needs --force.",
  positionals: [
    { name: 'name', doc: 'registered model name' },
    { name: 'version', doc: 'the version to delete; leave it out to delete the model', optional: true },
  ],
  flags: [
    {
      key: 'force',
      flag: 'force',
      kind: 'bool',
      doc: "also delete the aliases pointing at the version, or the model's remaining versions",
    },
    registry,
  ],
  notes: 'Version numbers are never reused: the next registration after deleting the highest one takes the number after it.',
};

export const ALIAS_SET: CommandSpec = {
  name: 'registry alias set',
  summary: 'Point an alias at a version (servers following it switch).',
  positionals: [
    { name: 'name', doc: 'registered model name' },
    { name: 'alias', doc: "alias: letters, digits, '_' or '-'; not 'latest' or v<digits>" },
    { name: 'version', doc: 'version number' },
  ],
  flags: [registry],
};

export const ALIAS_DELETE: CommandSpec = {
  name: 'registry alias delete',
  summary: 'Remove an alias (nothing to do if it does not exist).',
  positionals: [
    { name: 'name', doc: 'registered model name' },
    { name: 'alias', doc: 'alias to remove' },
  ],
  flags: [registry],
};

const imageFlags: FlagSpec[] = [
  {
    ...modelUri(
      'the registered model version to put in the image (an alias is resolved once, at build time); repeat it to bake several, each served under its registered name (name=URI to choose one)',
    ),
    repeatable: true,
  },
  {
    key: 'name',
    flag: 'name',
    short: 'n',
    kind: 'string',
    arg: 'NAME[:TAG]',
    doc: 'image name, with a registry host to push (registry.example.com/team/iris:1)',
  },
  {
    key: 'baseImage',
    flag: 'base-image',
    kind: 'string',
    arg: 'IMAGE',
    defaultDoc: 'node:20-bookworm-slim',
    doc: "glibc image with node >= 20.19 on PATH, pulled only if the daemon does not have it; 'host': one made from this machine's node and the glibc libraries it needs, loaded with no registry (build-image only)",
  },
  {
    key: 'platform',
    flag: 'platform',
    kind: 'enum',
    values: ['linux/amd64', 'linux/arm64'],
    arg: 'PLATFORM',
    defaultDoc: "this machine's",
    doc: 'target platform',
  },
  {
    key: 'env',
    flag: 'env',
    short: 'e',
    kind: 'string',
    arg: 'KEY=VALUE',
    repeatable: true,
    doc: 'environment baked into the image, e.g. -e MODELGATE_MAX_BODY_BYTES=1048576',
  },
  {
    key: 'k8sOut',
    flag: 'k8s-out',
    kind: 'string',
    arg: 'DIR',
    doc: 'also write Kubernetes manifests (Deployment, Service, PodDisruptionBudget, autoscaler) there; needs --name',
  },
  {
    key: 'autoscale',
    flag: 'autoscale',
    kind: 'enum',
    values: ['cpu', 'requests', 'keda'],
    default: 'cpu',
    arg: 'MODE',
    doc: 'cpu: an HPA on CPU; requests: an HPA on /invocations requests in flight through prometheus-adapter (with a ServiceMonitor and the adapter rule); keda: a KEDA ScaledObject on the same signal (allows --min-replicas 0)',
  },
  {
    key: 'autoscaleTarget',
    flag: 'autoscale-target',
    kind: 'number',
    min: 0,
    arg: 'N',
    doc: 'cpu: percent (default 70); requests, keda: requests in flight per pod (default 8)',
  },
  {
    key: 'minReplicas',
    flag: 'min-replicas',
    kind: 'int',
    min: 0,
    default: 2,
    arg: 'N',
    doc: 'fewest replicas (0 only with --autoscale keda)',
  },
  { key: 'maxReplicas', flag: 'max-replicas', kind: 'int', min: 1, default: 10, arg: 'N', doc: 'most replicas' },
  {
    key: 'prometheusUrl',
    flag: 'prometheus-url',
    kind: 'string',
    arg: 'URL',
    defaultDoc: 'http://prometheus-operated.monitoring.svc:9090',
    doc: 'keda: the Prometheus the trigger queries',
  },
  {
    key: 'prestop',
    flag: 'prestop',
    kind: 'enum',
    values: ['sleep', 'exec'],
    default: 'sleep',
    arg: 'MODE',
    doc: "sleep: the kubelet's own preStop sleep (Kubernetes >= 1.30); exec: a node -e wait that works on any version (the image has no shell)",
  },
  { key: 'namespace', flag: 'namespace', kind: 'string', arg: 'NS', doc: 'metadata.namespace of every manifest' },
  {
    key: 'serviceMonitor',
    flag: 'service-monitor',
    kind: 'bool',
    doc: 'also write a ServiceMonitor with --autoscale cpu (requests and keda always do)',
  },
  registry,
];

export const BUILD_IMAGE: CommandSpec = {
  name: 'build-image',
  summary:
    'Build a slim, offline-buildable image of one model version (or several, with -m repeated) through the Docker Engine API (DOCKER_HOST), and print its size and layers.',
  flags: [
    ...imageFlags,
    {
      key: 'push',
      flag: 'push',
      kind: 'bool',
      doc: 'push after building, with the credentials docker login left ($DOCKER_CONFIG/config.json)',
    },
    { key: 'noCache', flag: 'no-cache', kind: 'bool', doc: 'do not reuse cached layers' },
  ],
};

export const GENERATE_DOCKERFILE: CommandSpec = {
  name: 'generate-dockerfile',
  summary:
    'Write the Dockerfile and the complete build context of one model version (or several) to a directory, for any builder (docker, buildah, kaniko).',
  flags: [
    ...imageFlags,
    { key: 'directory', flag: 'directory', short: 'd', kind: 'string', arg: 'DIR', doc: 'where to write it (new or empty; required)' },
  ],
};
