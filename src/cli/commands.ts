/**
 * The `modelgate` commands: a tree from words to a spec and a lazily imported handler. Modules
 * are imported only for the command that runs (start-up time is most of a server's cold start);
 * `--help` at any level needs none of them.
 */
import { MODELGATE_VERSION } from '../version.js';
import { type CommandSpec, type ParsedCommand, UsageError, helpText, parseCommand } from './spec.js';
import * as specs from './specs.js';
import type * as RegistryCommands from './registry.js';

export { UsageError } from './spec.js';

type Handler = (parsed: ParsedCommand) => Promise<number>;
interface Leaf {
  readonly spec: CommandSpec;
  readonly run: () => Promise<Handler>;
}
interface Group {
  readonly summary: string;
  readonly commands: Readonly<Record<string, Leaf | Group>>;
}

const registryCmd = (name: keyof typeof RegistryCommands) => async () => (await import('./registry.js'))[name];
const imageCmd = (name: 'buildImageCommand' | 'generateDockerfileCommand') => async () => (await import('./build-image.js'))[name];

const TREE: Group = {
  summary: `modelgate ${MODELGATE_VERSION}: serve ML models behind MLflow's scoring protocol and the Open Inference Protocol`,
  commands: {
    serve: { spec: specs.SERVE, run: async () => (await import('./serve.js')).serveCommand },
    predict: { spec: specs.PREDICT, run: async () => (await import('./predict.js')).predictCommand },
    demo: { spec: specs.DEMO, run: async () => (await import('./demo.js')).demoCommand },
    registry: {
      summary: 'The model registry: the local one, or an MLflow tracking server (--registry http://…)',
      commands: {
        register: { spec: specs.REGISTER, run: registryCmd('registerCommand') },
        list: { spec: specs.LIST, run: registryCmd('listCommand') },
        versions: { spec: specs.VERSIONS, run: registryCmd('versionsCommand') },
        show: { spec: specs.SHOW, run: registryCmd('showCommand') },
        delete: { spec: specs.DELETE, run: registryCmd('deleteCommand') },
        alias: {
          summary: 'Point aliases at versions, or remove them',
          commands: {
            set: { spec: specs.ALIAS_SET, run: registryCmd('aliasSetCommand') },
            delete: { spec: specs.ALIAS_DELETE, run: registryCmd('aliasDeleteCommand') },
          },
        },
      },
    },
    'build-image': { spec: specs.BUILD_IMAGE, run: imageCmd('buildImageCommand') },
    'generate-dockerfile': { spec: specs.GENERATE_DOCKERFILE, run: imageCmd('generateDockerfileCommand') },
  },
};

const isLeaf = (n: Leaf | Group): n is Leaf => 'spec' in n;

function groupHelp(path: string[], g: Group): string {
  const lines = [`Usage: modelgate ${[...path, '<command>'].join(' ')} [options]`, '', g.summary, '', 'Commands:'];
  for (const [word, node] of Object.entries(g.commands)) {
    const summary = isLeaf(node) ? node.spec.summary : node.summary;
    // The first sentence; `<command> --help` has the rest.
    const first = /^.*?[.;:](?=\s|$)/.exec(summary)?.[0] ?? summary;
    lines.push(`  ${[...path, word].join(' ').padEnd(28)} ${first.replace(/[;:]$/, '.')}`);
  }
  lines.push('', `Run 'modelgate ${[...path, '<command>'].join(' ')} --help' for its options.`);
  if (path.length === 0) lines.push("Also: 'modelgate --version'. Every option and environment variable: docs/configuration.md.");
  return `${lines.join('\n')}\n`;
}

export async function runCommand(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === 'version') {
    process.stdout.write(`${MODELGATE_VERSION}\n`);
    return 0;
  }
  const path: string[] = [];
  let node: Leaf | Group = TREE;
  let rest = argv[0] === 'help' ? [...argv.slice(1), '--help'] : argv;
  while (!isLeaf(node)) {
    const [word, ...more] = rest;
    if (word === undefined || word === '--help' || word === 'help') {
      process.stdout.write(groupHelp(path, node));
      // Bare `modelgate` (or a bare group) is a usage error; asking for help is not.
      return word === undefined ? 2 : 0;
    }
    const next: Leaf | Group | undefined = Object.hasOwn(node.commands, word) ? node.commands[word] : undefined;
    if (next === undefined) {
      const where = path.length === 0 ? '' : ` ${path.join(' ')}`;
      throw new UsageError(
        `modelgate${where}: unknown command '${word}' (commands: ${Object.keys(node.commands).join(', ')}; see 'modelgate${where} --help')`,
      );
    }
    path.push(word);
    node = next;
    rest = more;
  }
  const parsed = parseCommand(node.spec, rest);
  if (parsed.help) {
    process.stdout.write(helpText(node.spec));
    return 0;
  }
  return (await node.run())(parsed);
}
