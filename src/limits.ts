/**
 * The request limits' defaults, in one place: the option table (src/config/options.ts) documents
 * and parses them, and library callers that leave a limit out get the same value.
 */
const MiB = 1024 * 1024;

export const LIMIT_DEFAULTS = {
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: 32 * MiB,
  /** Bytes of request bodies held at once before new ones get 503. */
  maxBodyMemory: 64 * MiB,
  /** Bytes per second a body must keep up after the grace period. */
  minBodyRate: 1024,
  /** Seconds a body may take before `minBodyRate` applies. */
  bodyGraceSeconds: 5,
  /** Largest response body, in bytes. */
  maxResponseBytes: 32 * MiB,
  /** Most rows per request. */
  maxRows: 100_000,
  /** Deepest JSON nesting accepted. */
  maxJsonDepth: 64,
  /** Inferences in progress at once. */
  maxInFlight: 1024,
  /** Seconds before a request is answered 504. */
  requestTimeoutSeconds: 60,
  /** Seconds a model's load and warm-up may take. */
  loadTimeoutSeconds: 300,
} as const;
