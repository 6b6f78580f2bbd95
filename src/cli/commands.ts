/**
 * Subcommands of the `modelgate` CLI.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { DEFAULT_REGISTRY_URI, ENV_VARS, type ServeOptions, optionsFromEnv, resolveServeConfig } from '../config.js';
import { ResourceNotFoundError, describeError } from '../errors.js';
import type { ModelVersion } from '../registry/backend.js';
import { openRegistry } from '../registry/registry.js';
import { MODELGATE_VERSION } from '../serve/app.js';
import { scoreBody } from '../serve/dataplane.js';
import { loadModel } from '../serve/load-model.js';
import { startServer } from '../serve/server.js';
import { createLogger } from '../util/log.js';

export class UsageError extends Error {}

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

interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function parse(args: string[], options: ParseArgsConfig['options'], positionals = true): Parsed {
  try {
    const r = parseArgs({ args, options, allowPositionals: positionals, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const registryOption = { registry: { type: 'string' } } as const;

function registryUri(flag: string | undefined): string {
  return flag ?? process.env.MODELGATE_REGISTRY_URI ?? DEFAULT_REGISTRY_URI;
}

function intFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got '${v}'`);
  return Number(v);
}

const serveFlags = {
  'model-uri': { type: 'string', short: 'm' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string', short: 'h' },
  'max-body-bytes': { type: 'string' },
  threads: { type: 'string' },
  'drain-seconds': { type: 'string' },
  'log-level': { type: 'string' },
  ...registryOption,
} as const;

function serveOptionsFromFlags(values: Record<string, string | boolean | undefined>): ServeOptions {
  const s = (k: string) => values[k] as string | undefined;
  return {
    modelUri: s('model-uri'),
    registryUri: s('registry'),
    port: intFlag('port', s('port')),
    host: s('host'),
    maxBodyBytes: intFlag('max-body-bytes', s('max-body-bytes')),
    intraOpThreads: intFlag('threads', s('threads')),
    drainSeconds: intFlag('drain-seconds', s('drain-seconds')),
    logLevel: s('log-level'),
  };
}

async function serveCommand(options: ServeOptions): Promise<number> {
  const config = resolveServeConfig(optionsFromEnv(process.env), options);
  const logger = createLogger({ level: config.logLevel });
  const running = await startServer(config, logger);
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    running.close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  running.loaded.catch((err: unknown) => {
    // A server that cannot load its model exits, so a supervisor sees it instead of a server stuck unready.
    logger.fatal({ err }, `cannot load ${config.modelUri}: ${describeError(err)}`);
    logger.flush();
    process.stderr.write(`modelgate: cannot load ${config.modelUri}: ${describeError(err)}\n`);
    void running.close().finally(() => process.exit(1));
  });
  return -1;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function predictCommand(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      'model-uri': { type: 'string', short: 'm' },
      'input-path': { type: 'string', short: 'i' },
      'content-type': { type: 'string', short: 't' },
      'output-path': { type: 'string', short: 'o' },
      ...registryOption,
    },
    false,
  );
  const uri = values['model-uri'] as string | undefined;
  if (uri === undefined) throw new UsageError('predict needs -m/--model-uri');
  const type = (values['content-type'] as string | undefined) ?? 'json';
  if (type !== 'json' && type !== 'csv') throw new UsageError(`-t/--content-type must be json or csv, got '${type}'`);
  const input = values['input-path'] === undefined ? await readStdin() : await readFile(values['input-path'] as string, 'utf8');
  const servable = await loadModel(uri, openRegistry(registryUri(values.registry as string | undefined)), { warmup: false });
  try {
    const out = await scoreBody(servable, type === 'csv' ? 'text/csv' : 'application/json', input);
    if (values['output-path'] === undefined) process.stdout.write(`${out}\n`);
    else await writeFile(values['output-path'] as string, out);
  } finally {
    await servable.model.unload();
  }
  return 0;
}

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function versionJson(v: ModelVersion): Record<string, unknown> {
  return {
    name: v.name,
    version: v.version,
    created: iso(v.createdAt),
    status: v.status,
    aliases: v.aliases,
    flavor: v.flavor,
    source: v.source,
    description: v.description,
    tags: v.tags,
    files: v.files,
  };
}

async function registryCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest, {
    ...registryOption,
    json: { type: 'boolean' },
    name: { type: 'string' },
    alias: { type: 'string' },
    description: { type: 'string' },
    'skip-validation': { type: 'boolean' },
  });
  const registry = openRegistry(registryUri(values.registry as string | undefined));
  const json = values.json === true;
  const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  const need = (n: number, usage: string) => {
    if (positionals.length !== n) throw new UsageError(`usage: modelgate registry ${usage}`);
  };
  switch (sub) {
    case 'register': {
      need(1, 'register <dir> --name NAME [--alias ALIAS]');
      const name = values.name as string | undefined;
      if (name === undefined) throw new UsageError('registry register needs --name');
      const v = await registry.register(positionals[0], {
        name,
        ...(values.alias === undefined ? {} : { alias: values.alias as string }),
        ...(values.description === undefined ? {} : { description: values.description as string }),
        skipValidation: values['skip-validation'] === true,
      });
      if (json) out(versionJson(v));
      else process.stdout.write(`${v.version}\n`);
      return 0;
    }
    case 'list': {
      need(0, 'list');
      const models = await registry.listModels();
      if (json) return out(models.map((m) => ({ ...m, created: iso(m.createdAt) }))), 0;
      if (models.length === 0) {
        process.stdout.write(`no models in ${registry.uri}\n`);
        return 0;
      }
      printTable([
        ['NAME', 'LATEST', 'ALIASES', 'CREATED'],
        ...models.map((m) => [
          m.name,
          m.latestVersion ?? '-',
          Object.entries(m.aliases)
            .map(([a, v]) => `${a}=${v}`)
            .join(',') || '-',
          iso(m.createdAt),
        ]),
      ]);
      return 0;
    }
    case 'versions': {
      need(1, 'versions <name>');
      const versions = await registry.listVersions(positionals[0]);
      if (json) return out(versions.map(versionJson)), 0;
      printTable([
        ['VERSION', 'FLAVOR', 'ALIASES', 'CREATED', 'SOURCE'],
        ...versions.map((v) => [v.version, v.flavor ?? '-', v.aliases.join(',') || '-', iso(v.createdAt), v.source ?? '-']),
      ]);
      return 0;
    }
    case 'alias': {
      const [op, ...pos] = positionals;
      if (op === 'set') {
        if (pos.length !== 3) throw new UsageError('usage: modelgate registry alias set <name> <alias> <version>');
        await registry.setAlias(pos[0], pos[1], pos[2]);
        process.stdout.write(`models:/${pos[0]}@${pos[1]} -> version ${pos[2]}\n`);
        return 0;
      }
      if (op === 'delete') {
        if (pos.length !== 2) throw new UsageError('usage: modelgate registry alias delete <name> <alias>');
        const existed = await registry.deleteAlias(pos[0], pos[1]);
        process.stdout.write(existed ? `deleted models:/${pos[0]}@${pos[1]}\n` : `alias ${pos[1]} did not exist (nothing to do)\n`);
        return 0;
      }
      throw new UsageError('usage: modelgate registry alias set|delete …');
    }
    case 'show': {
      need(1, 'show <models:/…>');
      const v = await registry.resolve(positionals[0]);
      out(versionJson(v));
      return 0;
    }
    default:
      throw new UsageError(`unknown registry command '${sub ?? ''}' (register, list, versions, alias, show)`);
  }
}

/** The bundled demo model: examples/iris at the package root (found from dist/ or src/). */
export function demoModelDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'examples', 'iris', 'MLmodel'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('the bundled demo model (examples/iris) is missing from this installation');
    dir = up;
  }
  return join(dir, 'examples', 'iris');
}

async function demoCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { port: { type: 'string', short: 'p' }, host: { type: 'string', short: 'h' }, ...registryOption }, false);
  const uri = registryUri(values.registry as string | undefined);
  const registry = openRegistry(uri);
  const exists = await registry.resolve('models:/iris@champion').then(
    () => true,
    (err: unknown) => {
      if (err instanceof ResourceNotFoundError) return false;
      throw err;
    },
  );
  if (!exists) {
    const v = await registry.register(demoModelDir(), { name: 'iris', alias: 'champion' });
    process.stderr.write(`registered the demo model as models:/iris/${v.version} (alias champion) in ${uri}\n`);
  }
  process.stderr.write(
    `serving models:/iris@champion; try:\n  curl -s -X POST http://127.0.0.1:${(values.port as string | undefined) ?? 8080}/invocations ` +
      `-H 'Content-Type: application/json' -d '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'\n`,
  );
  return serveCommand({
    modelUri: 'models:/iris@champion',
    registryUri: uri,
    port: intFlag('port', values.port as string | undefined),
    host: values.host as string | undefined,
  });
}

export async function runCommand(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(HELP);
      return cmd === undefined ? 2 : 0;
    case '--version':
    case 'version':
      process.stdout.write(`${MODELGATE_VERSION}\n`);
      return 0;
    case 'serve': {
      const { values, positionals } = parse(rest, serveFlags);
      if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
      return serveCommand(serveOptionsFromFlags(values));
    }
    case 'predict':
      return predictCommand(rest);
    case 'registry':
      return registryCommand(rest);
    case 'demo':
      return demoCommand(rest);
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

