/**
 * What a command takes, declared once: its flags (most from the option table), positionals and
 * summary. Parsing, `--help` and the usage errors are derived from it, so every command answers
 * `--help` the same way and every usage error names the flag as the user typed it.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import type { OptionSpec } from '../config/index.js';
import { GROUP_TITLES, optionSpec, parseValue } from '../config/index.js';

/** A mistake in how a command was called: exit status 2, one line. */
export class UsageError extends Error {}

export type FlagSpec = Pick<
  OptionSpec,
  'kind' | 'doc' | 'flag' | 'short' | 'env' | 'default' | 'defaultDoc' | 'min' | 'max' | 'values' | 'arg' | 'optionalValue'
> & {
  readonly key: string;
  readonly flag: string;
  /** May be given more than once (values are collected in order). */
  readonly repeatable?: boolean;
  /** The help section, for commands with many flags. */
  readonly group?: OptionSpec['group'];
};

export interface PositionalSpec {
  readonly name: string;
  readonly doc: string;
  readonly optional?: boolean;
}

export interface CommandSpec {
  /** As typed: `serve`, `registry alias set`. */
  readonly name: string;
  readonly summary: string;
  readonly positionals?: readonly PositionalSpec[];
  readonly flags: readonly FlagSpec[];
  /** Paragraphs after the options. */
  readonly notes?: string;
}

/** A flag declared by the option table (serve's options and the commands that share some). */
export function tableFlag(key: string, overrides: Partial<FlagSpec> = {}): FlagSpec {
  const spec = optionSpec(key);
  if (spec.flag === undefined) throw new Error(`option '${key}' has no flag`);
  return { ...spec, flag: spec.flag, ...overrides };
}

export interface ParsedCommand {
  readonly values: Readonly<Record<string, unknown>>;
  readonly positionals: readonly string[];
  /** `--help` was given: the caller prints `helpText(spec)` and exits 0. */
  readonly help: boolean;
}

const flagName = (f: FlagSpec) => (f.short === undefined ? `--${f.flag}` : `-${f.short}/--${f.flag}`);

function usageError(spec: CommandSpec, message: string): UsageError {
  return new UsageError(`modelgate ${spec.name}: ${message} (see 'modelgate ${spec.name} --help')`);
}

/** Parses argv for a command; values are typed and checked by each flag's kind. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedCommand {
  if (argv.includes('--help')) return { values: {}, positionals: [], help: true };
  const byFlag = new Map(spec.flags.map((f) => [f.flag, f]));
  const options: ParseArgsConfig['options'] = {};
  for (const f of spec.flags) {
    options[f.flag] = {
      // A value that may be left out only comes after `=`, so the next argument is never taken for it.
      type: f.kind === 'bool' || f.optionalValue !== undefined ? 'boolean' : 'string',
      ...(f.short ? { short: f.short } : {}),
      ...(f.repeatable ? { multiple: true } : {}),
    };
  }
  let tokens;
  try {
    ({ tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true }));
  } catch (err) {
    throw usageError(spec, (err as Error).message);
  }
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const f = byFlag.get(t.name);
    if (f === undefined) throw usageError(spec, `unknown option '${t.rawName}'`);
    if (f.kind === 'bool') {
      if (t.value !== undefined) throw usageError(spec, `${t.rawName} takes no value`);
      values[f.key] = true;
      continue;
    }
    const given = t.value ?? f.optionalValue;
    if (given === undefined) throw usageError(spec, `${t.rawName} needs a value${f.arg ? ` (${f.arg})` : ''}`);
    let v: unknown;
    try {
      v = f.kind === 'tokens-file' ? given : parseValue(f, given, t.rawName === `--${f.flag}` ? t.rawName : flagName(f));
    } catch (err) {
      if (err instanceof ConfigError) throw usageError(spec, err.message);
      throw err;
    }
    if (f.repeatable) ((values[f.key] ??= []) as unknown[]).push(v);
    else values[f.key] = v;
  }
  const required = (spec.positionals ?? []).filter((p) => !p.optional).length;
  const allowed = (spec.positionals ?? []).length;
  if (positionals.length > allowed) throw usageError(spec, `unexpected argument '${positionals[allowed]}'`);
  if (positionals.length < required) {
    throw usageError(
      spec,
      `missing ${(spec.positionals ?? [])
        .slice(positionals.length, required)
        .map((p) => `<${p.name}>`)
        .join(' ')}`,
    );
  }
  return { values, positionals, help: false };
}

/** A required flag that was not given. */
export function missingFlag(spec: CommandSpec, key: string): UsageError {
  const f = spec.flags.find((x) => x.key === key);
  return usageError(spec, `needs ${f === undefined ? key : `${flagName(f)}${f.arg ? ` ${f.arg}` : ''}`}`);
}

/** A usage error about values that were parsed fine but do not go together. */
export function commandError(spec: CommandSpec, message: string): UsageError {
  return usageError(spec, message);
}

function defaultText(f: FlagSpec): string | undefined {
  if (f.defaultDoc !== undefined) return f.defaultDoc;
  if (f.default === undefined || (Array.isArray(f.default) && f.default.length === 0) || f.default === false) return undefined;
  return String(f.default);
}

function flagLine(f: FlagSpec): [string, string] {
  const value = f.optionalValue !== undefined ? `[=${f.arg ?? 'VALUE'}]` : ` ${f.arg ?? 'VALUE'}`;
  const left = `${f.short ? `-${f.short}, ` : '    '}--${f.flag}${f.kind === 'bool' ? '' : value}`;
  const extras = [
    defaultText(f) === undefined ? '' : `default ${defaultText(f)}`,
    f.env ? `env ${f.env}` : '',
    f.repeatable ? 'repeatable' : '',
  ]
    .filter(Boolean)
    .join('; ');
  return [left, extras === '' ? f.doc : `${f.doc} (${extras})`];
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...out, line];
}

/** The command's `--help` text. */
export function helpText(spec: CommandSpec): string {
  const pos = (spec.positionals ?? []).map((p) => (p.optional ? `[<${p.name}>]` : `<${p.name}>`)).join(' ');
  const lines = [
    `Usage: modelgate ${spec.name}${pos ? ` ${pos}` : ''}${spec.flags.length > 0 ? ' [options]' : ''}`,
    '',
    ...wrap(spec.summary, 98),
    '',
  ];
  if ((spec.positionals ?? []).length > 0) {
    lines.push('Arguments:');
    for (const p of spec.positionals ?? []) lines.push(`  ${`<${p.name}>`.padEnd(30)} ${wrap(p.doc, 66).join(`\n  ${' '.repeat(30)} `)}`);
    lines.push('');
  }
  const groups = new Map<string, FlagSpec[]>();
  for (const f of spec.flags) {
    const title = f.group === undefined ? 'Options' : GROUP_TITLES[f.group];
    groups.set(title, [...(groups.get(title) ?? []), f]);
  }
  for (const [title, flags] of groups) {
    lines.push(`${title}:`);
    for (const f of flags) {
      const [left, right] = flagLine(f);
      const wrapped = wrap(right, 66);
      lines.push(left.length < 30 ? `  ${left.padEnd(30)} ${wrapped[0]}` : `  ${left}\n  ${' '.repeat(30)} ${wrapped[0]}`);
      for (const more of wrapped.slice(1)) lines.push(`  ${' '.repeat(30)} ${more}`);
    }
    lines.push('');
  }
  lines.push(`  ${'    --help'.padEnd(30)} this text`, '');
  if (spec.notes) lines.push(spec.notes.trim(), '');
  return `${lines.join('\n')}`;
}
