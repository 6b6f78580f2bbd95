import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** @default 'info' */
  level?: string;
  /** Where JSON lines go. @default process.stdout (fd 1) */
  destination?: number;
}

/** Structured JSON logs. Request bodies are never logged. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? 'info', base: { service: 'modelgate', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: options.destination ?? 1, sync: false }),
  );
}

/** A logger that drops everything (library use, tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * The error to put in a log line's `err`: the innermost cause, whose stack shows where things
 * went wrong. Our own wrappers already quote their cause's message, and pino appends every
 * cause's message again, so logging a wrapper would repeat the reason.
 */
export function errorForLog(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < 8 && e instanceof Error && e.cause !== undefined; i++) e = e.cause;
  return e;
}
