import { isDbopError } from '../core/errors.js';
import type { CliCommand } from './cli-command.js';
import { type CliIo, processIo } from './cli-io.js';
import { checkCommand } from './commands/check-command.js';
import { classifyCommand } from './commands/classify-command.js';
import { demoCommand } from './commands/demo-command.js';
import { runCommand } from './commands/run-command.js';
import { errorLine } from './error-line.js';
import { packageVersion } from './package-version.js';

const commands: readonly CliCommand[] = [demoCommand, runCommand, checkCommand, classifyCommand];

const help = `Usage: dbop <command> [options]
       dbop --version

Commands:
${commands.map((command) => `  ${command.name.padEnd(10)}${command.summary}`).join('\n')}

Run "dbop <command> --help" for a command's options. run and check default to the DATABASE_URL
environment variable when --url is not given; demo does not (see "dbop demo --help").
`;

/**
 * Runs the `dbop` command line and resolves to the exit code: 0 success, 1 runtime failure, 2 bad usage
 * (unknown command or flag, bad value, bad URL).
 */
export async function main(args: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(help);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`dbop ${packageVersion()}\n`);
    return 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (command === undefined) {
    io.stderr.write(`dbop: unknown command "${name}"\n\n${help}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    const usage = isDbopError(error, 'DBOP_USAGE') || isDbopError(error, 'DBOP_BAD_URL');
    io.stderr.write(`${errorLine(error)}\n`);
    if (usage) io.stderr.write(`Run "dbop ${command.name} --help" for usage.\n`);
    return usage ? 2 : 1;
  }
}
