#!/usr/bin/env node
// `nodelet` entry point: parses the verb and hands off to one small command each.
import { parseArgs } from 'node:util';
import { relaunchWithAgentNodeFlags } from './agent-node-flags.js';
import { VERSION } from '../api/version.js';

const USAGE = `nodelet ${VERSION} — a kubelet-like node agent on Docker

Usage: nodelet <command> [flags]

Commands:
  agent     run the node agent (--manifests DIR for standalone static pods)
  proxy     run the Service proxy               [--mode iptables|nftables|ipvs] [--cleanup]
  rules     show what the proxy programmed      [SERVICE] [-o json|yaml]
  pods      list the pods this node runs        [-o json|yaml|wide] [-n NS]
  ps        list the pods' containers           [-a] [-q] [--pod NAME] [-o json|yaml]
  logs      print a container's logs            POD [-c CONTAINER] [--tail N] [-f]
  exec      run a command in a container        POD [-c CONTAINER] -- CMD [ARGS…]
  inspect   show a pod with its full status     POD [-o json|yaml]
  version   print the version

Common flags: --node-name NAME (default: host name), --root-dir DIR (default /var/lib/nodelet)
`;

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  switch (verb) {
    // Each command's modules load only when it runs: the agent's relaunch (which
    // replaces this process) comes before any of them.
    case 'agent':
      relaunchWithAgentNodeFlags();
      return (await import('./agent-command.js')).runAgentCommand(rest);
    case 'proxy':
      return (await import('./proxy-command.js')).runProxyCommand(rest);
    case 'rules':
      return (await import('./rules-command.js')).runRulesCommand(rest);
    case 'pods':
      return (await import('./pods-command.js')).runPodsCommand(rest);
    case 'ps':
      return (await import('./ps-command.js')).runPsCommand(rest);
    case 'logs':
      return (await import('./container-commands.js')).runLogsCommand(rest);
    case 'exec':
      return (await import('./container-commands.js')).runExecCommand(rest);
    case 'inspect':
    case 'inspectp':
      return (await import('./container-commands.js')).runInspectCommand(rest);
    case 'version':
    case '--version':
      process.stdout.write(`nodelet ${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return verb === undefined ? 2 : 0;
    default:
      process.stderr.write(`nodelet: unknown command "${verb}"\n\n${USAGE}`);
      return 2;
  }
}

void parseArgs; // (each command parses its own flags)

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`nodelet: ${err.message}\n`);
    process.exitCode = 1;
  },
);
