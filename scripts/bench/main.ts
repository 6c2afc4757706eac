// `npm run bench -- <scenario>`: runs one benchmark and prints its figures, the
// last line being the machine-readable summary the issue asks for.
import { runStartupBench } from './startup.js';
import { runStartupApiBench } from './startup-api.js';
import { runProbesBench } from './probes.js';
import { runVolumesBench } from './volumes.js';
import { runProxyBench } from './proxy.js';
import { runIdleBench } from './idle.js';

const scenarios: Record<string, (args: string[]) => Promise<void>> = {
  startup: runStartupBench,
  'startup-api': runStartupApiBench,
  probes: runProbesBench,
  volumes: runVolumesBench,
  proxy: runProxyBench,
  idle: runIdleBench,
};

const [name = 'startup', ...rest] = process.argv.slice(2);
const scenario = scenarios[name];
if (!scenario) {
  process.stderr.write(`unknown benchmark "${name}"; available: ${Object.keys(scenarios).join(', ')}\n`);
  process.exit(2);
}
scenario(rest).catch((err: Error) => {
  process.stderr.write(`bench ${name} failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
