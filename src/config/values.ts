/**
 * Option values from text (a flag's argument, an environment variable) and checks of typed ones
 * (library callers), by the option's kind and bounds. Every message names the option as the user
 * gave it: `-p/--port`, `MODELGATE_PORT`, or the option key from code.
 */
import { ConfigError } from '../errors.js';
import type { OptionSpec } from './options.js';

/** What checking a value needs of an option. */
export type ValueSpec = Pick<OptionSpec, 'kind' | 'min' | 'max' | 'values'>;

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

function bounds(spec: ValueSpec): string {
  const { min, max } = spec;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return min === 0 ? ' of 0 or more' : ` of at least ${min}`;
  return '';
}

function describe(spec: ValueSpec): string {
  switch (spec.kind) {
    case 'int':
      return `a whole number${bounds(spec)}`;
    case 'number':
      return `a number${bounds(spec)}`;
    case 'seconds':
      return 'a number of seconds (0 or more)';
    case 'percent':
      return 'a number from 0 to 100';
    case 'bool':
      return 'true or false';
    case 'enum':
      return `one of ${(spec.values ?? []).join(', ')}`;
    default:
      return 'a value';
  }
}

const fail = (spec: ValueSpec, name: string, got: unknown): never => {
  const shown = typeof got === 'string' ? `'${got.length > 64 ? `${got.slice(0, 64)}…` : got}'` : String(got);
  throw new ConfigError(`${name} must be ${describe(spec)}, got ${shown}`);
};

function inRange(spec: ValueSpec, n: number): boolean {
  return (spec.min === undefined || n >= spec.min) && (spec.max === undefined || n <= spec.max);
}

/** The value of `raw` (a flag argument or an environment variable called `name`) for `spec`. */
export function parseValue(spec: ValueSpec, raw: string, name: string): unknown {
  const s = raw.trim();
  switch (spec.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(s) || !inRange(spec, Number(s))) return fail(spec, name, raw);
      return Number(s);
    }
    case 'number':
    case 'seconds':
    case 'percent': {
      const n = Number(spec.kind === 'seconds' ? s.replace(/s$/, '') : s);
      if (s === '' || !Number.isFinite(n)) return fail(spec, name, raw);
      return checkValue(spec, n, name);
    }
    case 'bool': {
      const v = s.toLowerCase();
      if (TRUE.includes(v)) return true;
      if (FALSE.includes(v)) return false;
      return fail(spec, name, raw);
    }
    case 'list':
      return s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    case 'enum':
      return checkValue(spec, s, name);
    case 'models': {
      let list: unknown;
      try {
        list = JSON.parse(s);
      } catch {
        throw new ConfigError(`${name} must be a JSON list of models like [{"primary": "models:/iris@champion"}]`);
      }
      return checkValue(spec, list, name);
    }
    default:
      return raw;
  }
}

/** Checks a typed value (from code, a routes file or a parsed flag) against `spec`; returns it. */
export function checkValue(spec: ValueSpec, v: unknown, name: string): unknown {
  switch (spec.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || !inRange(spec, v)) fail(spec, name, v);
      return v;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v) || !inRange(spec, v)) fail(spec, name, v);
      return v;
    case 'seconds':
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(spec, name, v);
      return v;
    case 'percent':
      if (typeof v !== 'number' || !(v >= 0 && v <= 100)) fail(spec, name, v);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') fail(spec, name, v);
      return v;
    case 'list':
      if (!Array.isArray(v) || !v.every((t) => typeof t === 'string')) fail(spec, name, v);
      return v;
    case 'enum':
      if (typeof v !== 'string' || !(spec.values ?? []).includes(v)) fail(spec, name, v);
      return v;
    case 'models':
      if (!Array.isArray(v) || v.length === 0 || !v.every((m) => typeof (m as { primary?: unknown } | null)?.primary === 'string'))
        throw new ConfigError(`${name} must be a non-empty list of models, each with a primary URI`);
      return v;
    default:
      if (typeof v !== 'string') fail(spec, name, v);
      return v;
  }
}
