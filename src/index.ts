/**
 * modelgate as a library. Everything the CLI does is available here.
 *
 * @example
 * import { openRegistry, loadModel, scoreBody } from 'modelgate';
 * const registry = openRegistry('file:./registry');
 * const v = await registry.register('./my-model', { name: 'iris', alias: 'champion' });
 * const model = await loadModel('models:/iris@champion', registry);
 * const json = await scoreBody(model, 'application/json', '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}');
 */
export {
  type ResolvedServeConfig,
  type ServeOptions,
  OTHER_ENV,
  SERVE_OPTIONS,
  defaultRegistryUri,
  loadServeConfig,
  optionsFromEnv,
  resolveServeConfig,
} from './config/index.js';
export {
  type ErrorCode,
  ERROR_CODE_TO_STATUS,
  GatewayError,
  InvalidInputError,
  ModelExecutionError,
  ResourceNotFoundError,
  SchemaEnforcementError,
} from './errors.js';
export { type ErrorBody, toErrorBody } from './protocols/mlflow/errors.js';
export { type DetectedModel, type Flavor, type FlavorLoadContext, type LoadedModel, listFlavors, registerFlavor } from './flavors/index.js';
export { type JsModel, type JsModelContext, type JsModelModule, type JsModelSignature, jsFlavor } from './flavors/js/index.js';
export { onnxFlavor } from './flavors/onnx/index.js';
export {
  type TfjsBackendName,
  type TfjsRuntime,
  fileSystemLoadHandler,
  fileSystemSaveHandler,
  tfjsFlavor,
  tfjsRuntime,
} from './flavors/tfjs/index.js';
export { type ModelDir, openModelDir } from './core/model-dir.js';
export { type MLModel, parseMLModel, readMLModel, writeMLModel } from './model/mlmodel.js';
export { type MlflowSignatureJson, type SaveModelCommonOptions, type SaveModelOptions, type SavedModel, saveModel } from './core/save.js';
export type { SaveJsModelOptions } from './flavors/js/save.js';
export type { SaveOnnxModelOptions } from './flavors/onnx/save.js';
export type { SaveTfjsModelOptions, TfjsSavable } from './flavors/tfjs/save.js';
export type { FileDigest, MaterializedModel, ModelVersion, RegisteredModel, RegistryBackend } from './registry/backend.js';
export { type BackendFactory, openBackend, registerBackend } from './registry/backends/index.js';
export { LocalRegistry } from './registry/backends/local/index.js';
export {
  type DownloadProgress,
  type MlflowAuth,
  type MlflowRegistryOptions,
  LOGGED_MODEL_VERSION,
  MlflowRegistry,
  UnsupportedArtifactStoreError,
  mlflowOptionsFromEnv,
  progressReporter,
} from './registry/backends/mlflow/index.js';
export { type ModelUri, InvalidModelUriError, formatModelUri, parseModelUri } from './registry/model-uri.js';
export { type RegisterModelOptions, Registry, type StagedValidator } from './registry/registry.js';
export { openRegistry } from './core/registration.js';
export type { DataFrame, ModelInput, ModelOutput, Params } from './schema/model-io.js';
export type { DType, NDArray } from './schema/ndarray.js';
export { type ModelSignature, parseSignature, signatureToDict } from './schema/signature.js';
export { type AppDeps, type AppOptions, MODELGATE_VERSION, createApp } from './http/app.js';
export type { ModelRef } from './model/ref.js';
export type { ServableModel } from './core/servable.js';
export { type LoadOptions, loadServable } from './core/load.js';
export { score, scoreBody, scoreInferRequest } from './core/scoring.js';
export { loadModel } from './core/load-model.js';
export { type GatewayMetrics, createMetrics } from './core/metrics.js';
export { type HostStatus, type ModelHost, SingleModelHost } from './core/model-host.js';
export { type RunningServer, startServer } from './server/server.js';
export { type Logger, createLogger, silentLogger } from './util/log.js';
