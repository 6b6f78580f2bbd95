/**
 * The `modelgate` subcommands: a table from name to handler, and the help text.
 */
import { ENV_VARS, DEFAULT_REGISTRY_URI } from '../config.js';
import { MODELGATE_VERSION } from '../serve/app.js';
import { UsageError } from './args.js';
import { demoCommand } from './demo.js';
import { predictCommand } from './predict.js';
import { registryCommand } from './registry.js';
import { serveCommand } from './serve.js';

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

Environment:
${ENV_VARS.map((v) => `  ${v.env.padEnd(28)} ${v.doc}`).join('\n')}
`;

/** Each handler returns an exit status, or -1 when the process keeps running (serve). */
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  predict: predictCommand,
  registry: registryCommand,
  demo: demoCommand,
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
