/**
 * The `modelgate` subcommands: a table from name to handler, and the help text.
 */
import { ENV_VARS, DEFAULT_REGISTRY_URI } from '../config.js';
import { MODELGATE_VERSION } from '../version.js';
import { UsageError } from './args.js';

export { UsageError } from './args.js';

const HELP = `modelgate ${MODELGATE_VERSION}: serve ML models behind MLflow's scoring protocol

Usage:
  modelgate serve -m <model-uri> [-p PORT] [-h HOST] [--registry URI]
  modelgate predict -m <model-uri> [-i input.json] [-t json|csv] [-o out.json]
  modelgate registry register <dir> --name NAME [--alias ALIAS] [--description TEXT]
  modelgate registry list
  modelgate registry versions <name>
  modelgate registry alias set <name> <alias> <version>
  modelgate registry alias delete <name> <alias>
  modelgate registry show <models:/…>
  modelgate demo [-p PORT]          register the bundled iris model if needed and serve it
  modelgate build-image -m <models:/…> -n NAME[:TAG] [--base-image IMG|host] [--platform P] [-e K=V]… [--push] [--k8s-out DIR [--autoscale cpu|requests|keda]]
  modelgate generate-dockerfile -m <models:/…> -d DIR [-n NAME[:TAG]] [--base-image IMG] [--platform P] [-e K=V]… [--k8s-out DIR [--autoscale …]]

Model URIs: models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/latest, or a model directory.

Common options:
  --registry URI     registry to use (env MODELGATE_REGISTRY_URI, default ${DEFAULT_REGISTRY_URI})
  --json             registry commands: print JSON instead of text
  --help             this text;  --version  the version

serve options:
  -m, --model-uri URI      model to serve (env MODELGATE_MODEL_URI)
  -p, --port PORT          default 8080
  -h, --host HOST          default 127.0.0.1; use 0.0.0.0 to accept outside connections
  --max-body-bytes N       request body limit, default 104857600 (100 MiB)
  --threads N              onnxruntime intra-op threads per inference, default 1
  --drain-seconds N        time given to in-flight requests on SIGTERM, default 30
  --log-level LEVEL        trace, debug, info, warn, error; default info
  --canary URI             a second version that gets --canary-weight percent of requests
  --canary-weight N        0–100, default 0 (the canary is then reachable only by pinning)
  --sticky-header NAME     requests with the same value of this header stay on one version
  --shadow URI             mirror requests to this version; its answers are discarded
  --shadow-percent N       share of requests mirrored, default 100
  --routes FILE            the routing settings above as YAML/JSON (flags and env win)
  --poll-interval SECONDS  how often aliases are looked up again, default 10 (0 = never)
  --admin-token-file FILE  bearer tokens (one per line) that enable the /admin API
  --auth-token-file FILE   bearer tokens (one per line) required on /invocations
  --max-rows N             most rows per request, default 100000
  --max-in-flight N        requests in progress before 503, default 256 (0 = no bound)
  --request-timeout S      seconds before 504 DEADLINE_EXCEEDED, default 60
  --access-log             one JSON log line per request
  -w, --workers N          server processes sharing the port, default 1
  --max-batch-size N       rows per batched inference call, default 64 (1 = no batching)
  --batch-wait-ms MS       extra wait for a batch to fill, default 0
  --js-isolation MODE      JS-code models in their own thread (thread, default) or the server's (none)

build-image / generate-dockerfile options:
  -n, --name NAME[:TAG]    image name (with a registry host to push, e.g. registry.example.com/iris:1)
  --base-image IMAGE       glibc image with node >= 20.19 on PATH, default node:20-bookworm-slim; pulled only
                           when the daemon lacks it. 'host': a FROM-scratch base of this machine's node and
                           its glibc libraries, loaded with no registry (build-image only)
  --platform P             linux/amd64 or linux/arm64, default this machine's
  -e, --env KEY=VALUE      environment baked into the image (repeatable), e.g. -e MODELGATE_MAX_BODY_BYTES=1048576
  --push                   push after building, with credentials from ~/.docker/config.json
  --k8s-out DIR            write Deployment, Service, PodDisruptionBudget and autoscaler YAML
  --autoscale MODE         cpu (HPA, default), requests (HPA on requests in flight via prometheus-adapter,
                           plus a ServiceMonitor and the adapter rule) or keda (ScaledObject, Prometheus trigger)
  --autoscale-target N     cpu: percent (70); requests, keda: /invocations requests in flight per pod (8)
  --min-replicas N         default 2; 0 only with keda      --max-replicas N   default 10
  --prometheus-url URL     keda: the Prometheus to query, default http://prometheus-operated.monitoring.svc:9090
  --prestop MODE           sleep (kubelet's, Kubernetes >= 1.30, default) or exec (node -e, any version)
  --namespace NS           metadata.namespace of every manifest   --service-monitor  also with --autoscale cpu
  --no-cache               build-image: do not reuse cached layers
  -d, --directory DIR      generate-dockerfile: where to write the Dockerfile and context (new or empty)

Environment:
${ENV_VARS.map((v) => `  ${v.env.padEnd(28)} ${v.doc}`).join('\n')}
`;

/**
 * Each handler returns an exit status, or -1 when the process keeps running (serve). Modules are
 * imported only for the command that runs: start-up time is most of a server's cold start.
 */
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve: async (a) => (await import('./serve.js')).serveCommand(a),
  predict: async (a) => (await import('./predict.js')).predictCommand(a),
  registry: async (a) => (await import('./registry.js')).registryCommand(a),
  demo: async (a) => (await import('./demo.js')).demoCommand(a),
  'build-image': async (a) => (await import('./build-image.js')).buildImageCommand(a),
  'generate-dockerfile': async (a) => (await import('./build-image.js')).generateDockerfileCommand(a),
};

export async function runCommand(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help') {
    process.stdout.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === 'version') {
    process.stdout.write(`${MODELGATE_VERSION}\n`);
    return 0;
  }
  const handler = COMMANDS[cmd];
  if (handler === undefined) throw new UsageError(`unknown command '${cmd}'`);
  return handler(rest);
}
