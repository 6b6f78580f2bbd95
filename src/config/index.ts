/** Configuration: the option table, its parsers and the resolution of layers into one config. */
export { type Environment, environment } from './env.js';
export { GROUP_TITLES, type OptionGroup, type OptionKind, type OptionSpec, OTHER_ENV, SERVE_OPTIONS } from './options.js';
export {
  DEFAULT_REGISTRY_URI,
  type ResolvedServeConfig,
  SERVE_DEFAULTS,
  type ServeOptions,
  defaultRegistryUri,
  optionSpec,
  optionsFromEnv,
  perModelPercent,
  resolveServeConfig,
} from './resolve.js';
export { checkValue, parseValue } from './values.js';
export { loadServeConfig, readTokenFile } from './load.js';
export { readRoutesFile } from './routes-file.js';
export { registryOptions } from './registry.js';
export { type ServedModel, modelArgument, namedModels, servedNameOf } from './models.js';
