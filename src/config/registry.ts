/**
 * The registry backends' options from the environment: MLflow's own variables (auth, TLS,
 * retries, as its Python client reads them), MODELGATE_CACHE_DIR, and download progress on stderr.
 */
import type { BackendOptions } from '../registry/backends/index.js';
import { mlflowOptionsFromEnv, progressReporter } from '../registry/backends/mlflow/index.js';
import type { Environment } from './env.js';

export function registryOptions(env: Environment): BackendOptions {
  return { mlflow: () => ({ ...mlflowOptionsFromEnv(env), progress: progressReporter({ stream: process.stderr }) }) };
}
