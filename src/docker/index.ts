/**
 * Container images of a served model and their Kubernetes manifests. Generation (Dockerfile,
 * build context, manifests) is separate from the daemon calls in build.ts.
 */
export {
  type AuthConfig,
  type DockerConfigFile,
  authFor,
  dockerConfigPath,
  readDockerConfig,
  registryHost,
  splitImageReference,
} from './auth.js';
export {
  BaseImageUnavailableError,
  DockerDaemonError,
  type BuildOptions,
  type ImageReport,
  type LayerReport,
  type ProgressEvent,
  buildImage,
  describeImage,
  formatImageReport,
  formatProgress,
  hasLocalImage,
  platformMismatch,
  pullBaseImage,
  pushImage,
} from './build.js';
export {
  HOST_BASE_KEYWORD,
  HOST_BASE_REPOSITORY,
  type HostBase,
  type HostBaseOptions,
  type HostBasePlan,
  checkHostBasePlatform,
  ensureHostBase,
  hostBaseArchive,
  loadHostBase,
  planHostBase,
} from './host-base.js';
export { type ContextEntry, type FileEntry, type TextEntry, contextSize, createBuildContext, writeBuildContext } from './context.js';
export { BUILDER_ONLY_PACKAGES, type RuntimePackage, flavorPackages, runtimePackages } from './dependencies.js';
export {
  APP_DIR,
  DEFAULT_BASE_IMAGE,
  DEFAULT_IMAGE_PORT,
  type DockerfileOptions,
  IMAGE_PLATFORMS,
  IMAGE_USER,
  type ImagePlatform,
  generateDockerfile,
  hostPlatform,
  isImagePlatform,
  readDockerfileTemplate,
} from './dockerfile.js';
export { type ImageModel, type ImagePlan, type ImagePlanOptions, LABEL_PREFIX, imageLabels, planImage } from './image-plan.js';
export {
  AUTOSCALE_MODES,
  type AutoscaleMode,
  DEFAULT_K8S_RESOURCES,
  DEFAULT_PROMETHEUS_URL,
  IN_FLIGHT_METRIC,
  type K8sManifests,
  type K8sOptions,
  PRESTOP_MODES,
  type PreStopMode,
  inFlightQuery,
  k8sFiles,
  k8sManifests,
  k8sName,
  prometheusAdapterRule,
} from './k8s.js';
export { modelDigest } from './model-files.js';
