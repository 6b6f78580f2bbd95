/**
 * The serve configuration as the CLI assembles it, in layers that each win over the one before:
 * the routes file < the environment < token files < flags.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import type { Environment } from './env.js';
import { SERVE_OPTIONS } from './options.js';
import { type ResolvedServeConfig, type ServeOptions, optionsFromEnv, resolveServeConfig } from './resolve.js';
import { readRoutesFile } from './routes-file.js';

/** Tokens from a file, one per line (`#` comments), so they stay out of the process list. */
export async function readTokenFile(path: string, name: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const tokens = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0) throw new ConfigError(`${name}: ${path} holds no token`);
  return tokens;
}

/** A layer with its token files read and their tokens added to the lists they feed. */
async function withTokenFiles(
  layer: ServeOptions,
  describe: (flag: string | undefined, env: string | undefined) => string,
): Promise<ServeOptions> {
  const out: Record<string, unknown> = { ...layer };
  for (const spec of SERVE_OPTIONS) {
    if (spec.kind !== 'tokens-file') continue;
    const path = out[spec.key] as string | undefined;
    if (path === undefined) continue;
    const tokens = await readTokenFile(path, describe(spec.flag, spec.env));
    out[spec.into] = [...((out[spec.into] as string[] | undefined) ?? []), ...tokens];
  }
  return out as ServeOptions;
}

/** Environment, routes file and token files under `flags` (already parsed and checked). */
export async function loadServeConfig(env: Environment, flags: ServeOptions): Promise<ResolvedServeConfig> {
  const fromEnv = await withTokenFiles(optionsFromEnv(env), (_f, e) => e ?? '');
  const routesFile = flags.routesFile ?? fromEnv.routesFile;
  const fromRoutes = routesFile === undefined ? {} : await readRoutesFile(routesFile);
  const fromFlags = await withTokenFiles(flags, (f) => `--${f ?? ''}`);
  return resolveServeConfig(fromRoutes, fromEnv, fromFlags);
}
