/**
 * The process environment, read here and nowhere else (a variable read somewhere else is one the
 * option table and the docs do not know about). Composition roots (the CLI, the server start)
 * call `environment()`; everything below them takes options.
 */
export type Environment = Readonly<Record<string, string | undefined>>;

export function environment(): Environment {
  return process.env;
}
