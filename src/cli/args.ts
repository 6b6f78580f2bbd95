/** Flag parsing shared by the subcommands. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { defaultRegistryUri } from '../config.js';

/** A mistake in how the command was called (exit status 2). */
export class UsageError extends Error {}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parse(args: string[], options: ParseArgsConfig['options'], positionals = true): Parsed {
  try {
    const r = parseArgs({ args, options, allowPositionals: positionals, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export const registryOption = { registry: { type: 'string' } } as const;

export function registryUri(flag: string | undefined): string {
  return flag ?? defaultRegistryUri(process.env);
}

export function secondsFlag(name: string, v: string): number {
  const n = Number(v.replace(/s$/, ''));
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number of seconds, got '${v}'`);
  return n;
}

export function intFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a non-negative integer, got '${v}'`);
  return Number(v);
}
