/**
 * The log thread's script: compiled beside this module (dist/src/), or dist/log-thread.mjs in the
 * one-file build, whose bundler puts that address here instead (tools/bundle.ts).
 */
export const LOG_THREAD_URL: URL = new URL('./thread-main.js', import.meta.url);
