/** MLflow's scoring endpoint, and one per model by name. Its health endpoints (/ping, /health) are with the others in ops.ts. */
import type { ModelHost } from '../../core/model-host.js';
import { acquireModel } from '../../core/routing/by-name.js';
import { mlflowProtocol } from '../../protocols/mlflow/protocol.js';
import { type InferDeps, inferHandler } from '../infer.js';
import type { Mount } from '../route.js';

export function mountMlflow(m: Mount, deps: InferDeps & { host: ModelHost }): void {
  const { host } = deps;
  const unnamed = acquireModel(host, undefined);
  m.post(
    '/invocations',
    inferHandler(deps, mlflowProtocol, () => unnamed),
    { protect: true },
  );
  m.post(
    '/models/:name/invocations',
    inferHandler(deps, mlflowProtocol, (c) => acquireModel(host, c.req.param('name'))),
    { protect: true },
  );
}
