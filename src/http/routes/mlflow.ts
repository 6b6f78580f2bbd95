/** MLflow's scoring endpoint. Its health endpoints (/ping, /health) are with the others in ops.ts. */
import type { ModelHost } from '../../core/model-host.js';
import { mlflowProtocol } from '../../protocols/mlflow/protocol.js';
import { type InferDeps, inferHandler } from '../infer.js';
import type { Mount } from '../route.js';

export function mountMlflow(m: Mount, deps: InferDeps & { host: ModelHost }): void {
  const { host } = deps;
  const acquire = (header: (name: string) => string | undefined) => host.acquire(header);
  m.post(
    '/invocations',
    inferHandler(deps, mlflowProtocol, () => acquire),
    { protect: true },
  );
}
