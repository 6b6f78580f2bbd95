/** `modelgate registry …`: the local registry (or any backend) from the command line. */
import type { ModelVersion } from '../registry/backend.js';
import { openRegistry } from '../registry/registry.js';
import { UsageError, parse, registryOption, registryUri, secondsFlag } from './args.js';

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

export async function registryCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest, {
    ...registryOption,
    json: { type: 'boolean' },
    name: { type: 'string' },
    alias: { type: 'string' },
    description: { type: 'string' },
    'skip-validation': { type: 'boolean' },
    'load-timeout': { type: 'string' },
  });
  const registry = openRegistry(registryUri(values.registry as string | undefined));
  await registry.sweep();
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
        ...(values['load-timeout'] === undefined
          ? {}
          : { loadTimeoutMs: secondsFlag('load-timeout', values['load-timeout'] as string) * 1000 }),
      });
      if (json) out(versionJson(v));
      else process.stdout.write(`${v.version}\n`);
      return 0;
    }
    case 'list': {
      need(0, 'list');
      const models = await registry.listModels();
      if (json) return (out(models.map((m) => ({ ...m, created: iso(m.createdAt) }))), 0);
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
      if (json) return (out(versions.map(versionJson)), 0);
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
