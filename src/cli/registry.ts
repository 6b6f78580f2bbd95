/** `modelgate registry …`: the local registry (or an MLflow server's) from the command line. */
import { defaultRegistryUri, environment } from '../config/index.js';
import type { ModelVersion } from '../registry/backend.js';
import type { Registry } from '../registry/registry.js';
import { openRegistry } from '../core/registration.js';
import { type ParsedCommand, commandError, missingFlag } from './spec.js';
import { REGISTER } from './specs.js';

function printTable(rows: string[][]): void {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd()}\n`,
    );
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);

/** A version as `show` and `--json` print it: everything the registry knows (MLflow's stage and run too). */
function versionJson(v: ModelVersion): Record<string, unknown> {
  return {
    name: v.name,
    version: v.version,
    created: iso(v.createdAt),
    status: v.status,
    aliases: v.aliases,
    flavor: v.flavor,
    source: v.source,
    ...(v.stage === undefined ? {} : { stage: v.stage }),
    ...(v.runId === undefined ? {} : { run_id: v.runId }),
    description: v.description,
    tags: v.tags,
    files: v.files,
  };
}

async function open(values: ParsedCommand['values']): Promise<Registry> {
  const registry = openRegistry((values.registryUri as string | undefined) ?? defaultRegistryUri(environment()));
  await registry.sweep();
  return registry;
}

function tagPairs(list: readonly string[] | undefined): Record<string, string> | undefined {
  if (list === undefined) return undefined;
  const tags: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw commandError(REGISTER, `--tag takes KEY=VALUE, got '${kv}'`);
    tags[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return tags;
}

export async function registerCommand({ values, positionals }: ParsedCommand): Promise<number> {
  const name = values.name as string | undefined;
  if (name === undefined) throw missingFlag(REGISTER, 'name');
  const registry = await open(values);
  const tags = tagPairs(values.tags as string[] | undefined);
  const v = await registry.register(positionals[0], {
    name,
    ...(values.alias === undefined ? {} : { alias: values.alias as string }),
    ...(values.description === undefined ? {} : { description: values.description as string }),
    ...(tags === undefined ? {} : { tags }),
    skipValidation: values.skipValidation === true,
    ...(values.reference === undefined ? {} : { reference: values.reference as string }),
    ...(values.loadTimeoutSeconds === undefined ? {} : { loadTimeoutMs: (values.loadTimeoutSeconds as number) * 1000 }),
  });
  if (values.json === true) out(versionJson(v));
  else process.stdout.write(`${v.version}\n`);
  return 0;
}

export async function listCommand({ values }: ParsedCommand): Promise<number> {
  const registry = await open(values);
  const models = await registry.listModels();
  if (values.json === true) return (out(models.map((m) => ({ ...m, created: iso(m.createdAt) }))), 0);
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

export async function versionsCommand({ values, positionals }: ParsedCommand): Promise<number> {
  const versions = await (await open(values)).listVersions(positionals[0]);
  if (values.json === true) return (out(versions.map(versionJson)), 0);
  const stages = versions.some((v) => v.stage !== undefined);
  printTable([
    ['VERSION', 'FLAVOR', 'ALIASES', ...(stages ? ['STAGE'] : []), 'CREATED', 'SOURCE'],
    ...versions.map((v) => [
      v.version,
      v.flavor ?? '-',
      v.aliases.join(',') || '-',
      ...(stages ? [v.stage ?? '-'] : []),
      iso(v.createdAt),
      v.source ?? '-',
    ]),
  ]);
  return 0;
}

export async function showCommand({ values, positionals }: ParsedCommand): Promise<number> {
  out(versionJson(await (await open(values)).resolve(positionals[0])));
  return 0;
}

export async function deleteCommand({ values, positionals }: ParsedCommand): Promise<number> {
  const registry = await open(values);
  const [name, version] = positionals;
  const force = values.force === true;
  if (version === undefined) {
    await registry.deleteModel(name, { force });
    process.stdout.write(`deleted registered model '${name}'\n`);
  } else {
    await registry.deleteVersion(name, version, { force });
    process.stdout.write(`deleted version ${version} of '${name}'\n`);
  }
  return 0;
}

export async function aliasSetCommand({ values, positionals }: ParsedCommand): Promise<number> {
  const [name, alias, version] = positionals;
  await (await open(values)).setAlias(name, alias, version);
  process.stdout.write(`models:/${name}@${alias} -> version ${version}\n`);
  return 0;
}

export async function aliasDeleteCommand({ values, positionals }: ParsedCommand): Promise<number> {
  const [name, alias] = positionals;
  const existed = await (await open(values)).deleteAlias(name, alias);
  process.stdout.write(existed ? `deleted models:/${name}@${alias}\n` : `alias ${alias} did not exist (nothing to do)\n`);
  return 0;
}
