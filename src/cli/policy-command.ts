/**
 * `keyvend policy lint` and `keyvend policy render`: check every template in the policies
 * directory and every profile's template, or show the exact policy a device would get. The
 * dispatcher hands over the arguments after `policy`.
 */
import { loadConfig } from '../config/load.js';
import { findProfile } from '../config/profiles.js';
import type { Config } from '../config/schema.js';
import { type LintReport, lintAll, lintTemplate, SESSION_POLICY_LIMIT } from '../policy/lint.js';
import { principalNameFor } from '../policy/principal-name.js';
import { PolicyRenderError, renderPolicy } from '../policy/render.js';
import { readTemplates } from '../policy/template.js';
import { type CliIo, type Command, UsageError } from './io.js';

export const POLICY_USAGE = [
  'usage:',
  '  keyvend policy lint [--config F]',
  '  keyvend policy render --profile P --device D [--user U] [--account A] [--region R] [--config F]',
].join('\n');

/** What `keyvend policy …` was asked to do. */
export type PolicyArgs =
  | { verb: 'help' }
  | { verb: 'lint'; config?: string }
  | {
      verb: 'render';
      config?: string;
      profile: string;
      device: string;
      user?: string;
      account?: string;
      region?: string;
    };

const OPTIONS: Record<'lint' | 'render', readonly string[]> = {
  lint: ['config'],
  render: ['config', 'profile', 'device', 'user', 'account', 'region'],
};

/**
 * Parses the arguments after `policy`. Options take `--name value` or `--name=value`.
 *
 * @throws UsageError for an unknown verb or option, a missing value or a repeated option.
 */
export function parsePolicyArgs(args: readonly string[]): PolicyArgs {
  const [verb, ...rest] = args;
  if (verb === undefined) throw new UsageError(`a sub-command is needed\n${POLICY_USAGE}`);
  if (verb === 'help' || verb === '--help' || verb === '-h') return { verb: 'help' };
  if (verb !== 'lint' && verb !== 'render') {
    throw new UsageError(`unknown sub-command ${JSON.stringify(verb)}\n${POLICY_USAGE}`);
  }
  const options = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--help' || arg === '-h') return { verb: 'help' };
    const match = /^--([a-z]+)(?:=(.*))?$/s.exec(arg);
    if (match === null) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const name = match[1]!;
    if (!OPTIONS[verb].includes(name)) {
      throw new UsageError(`policy ${verb} takes no --${name}\n${POLICY_USAGE}`);
    }
    let value = match[2];
    if (value === undefined) {
      value = rest[i + 1];
      if (value === undefined || value.startsWith('--')) {
        throw new UsageError(`--${name} needs a value`);
      }
      i++;
    }
    if (value === '') throw new UsageError(`--${name} needs a value`);
    if (options.has(name)) throw new UsageError(`--${name} is given twice`);
    options.set(name, value);
  }
  const config = options.get('config');
  if (verb === 'lint') return config === undefined ? { verb } : { verb, config };
  const profile = options.get('profile');
  const device = options.get('device');
  if (profile === undefined || device === undefined) {
    throw new UsageError(`policy render needs --profile and --device\n${POLICY_USAGE}`);
  }
  const account = options.get('account');
  if (account !== undefined && !/^[0-9]{12}$/.test(account)) {
    throw new UsageError('--account must be a 12-digit AWS account id');
  }
  const parsed: PolicyArgs = { verb, profile, device };
  for (const key of ['config', 'user', 'account', 'region'] as const) {
    const value = options.get(key);
    if (value !== undefined) parsed[key] = value;
  }
  return parsed;
}

/** Runs `keyvend policy <lint|render> …`. */
export const run: Command = async (args, io) => {
  const parsed = parsePolicyArgs(args);
  if (parsed.verb === 'help') {
    io.stdout(`${POLICY_USAGE}\n`);
    return 0;
  }
  const config = loadConfig({ file: parsed.config, env: io.env, cwd: io.cwd });
  return parsed.verb === 'lint' ? lint(config, io) : render(config, parsed, io);
};

async function lint(config: Config, io: CliIo): Promise<number> {
  const { templates, failures } = await readTemplates(config.policiesDir);
  const rows: [label: string, status: string, detail: string][] = [];
  const messages: string[] = [];
  let failed = false;
  const add = (label: string, report: LintReport): void => {
    const ok = report.errors.length === 0;
    failed ||= !ok;
    // A template that does not parse has no size to show.
    const size =
      report.renderedSize > 0 ? `${report.renderedSize}/${SESSION_POLICY_LIMIT} chars` : '';
    rows.push([label, ok ? 'ok' : 'ERROR', size]);
    for (const e of report.errors) messages.push(`${label}: error: ${e}`);
    for (const w of report.warnings) messages.push(`${label}: warning: ${w}`);
  };

  for (const name of [...templates.keys(), ...failures.keys()].sort()) {
    const template = templates.get(name);
    add(
      name,
      template !== undefined
        ? lintTemplate(template)
        : { errors: failures.get(name)!.problems, warnings: [], renderedSize: 0 },
    );
  }
  for (const report of lintAll(config, templates)) {
    add(`profile ${report.profile} (${report.template})`, report);
  }

  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, status, detail] of rows) {
    io.stdout(`${label.padEnd(width)}  ${status.padEnd(5)}  ${detail}`.trimEnd() + '\n');
  }
  if (messages.length > 0) io.stdout(`\n${messages.join('\n')}\n`);
  return failed ? 1 : 0;
}

async function render(
  config: Config,
  args: Extract<PolicyArgs, { verb: 'render' }>,
  io: CliIo,
): Promise<number> {
  const profile = findProfile(config, args.profile);
  if (profile === undefined) {
    const known = Object.keys(config.profiles).join(', ');
    throw new UsageError(`no profile ${JSON.stringify(args.profile)} (profiles: ${known})`);
  }
  let account = args.account;
  if (account === undefined) {
    if (!config.aws.local.enabled) {
      throw new UsageError('--account is needed (the local AWS endpoint is not enabled)');
    }
    account = config.aws.local.accountId;
  }
  const { templates, failures } = await readTemplates(config.policiesDir);
  const template = templates.get(profile.policy);
  if (template === undefined) {
    const failure = failures.get(profile.policy);
    io.stderr(
      failure !== undefined
        ? `${failure.message}\n`
        : `keyvend policy render: ${profile.policy} is not in ${config.policiesDir}\n`,
    );
    return 1;
  }
  let policy: string;
  try {
    const principal = principalNameFor(profile.issuer.type, args.user ?? args.device);
    policy = renderPolicy(template, {
      principal,
      device: args.device,
      profile: args.profile,
      account,
      region: args.region ?? config.aws.region!,
      user: args.user ?? null,
      params: profile.params,
    });
  } catch (err) {
    if (!(err instanceof PolicyRenderError) && !(err instanceof RangeError)) throw err;
    io.stderr(`keyvend policy render: ${err.message}\n`);
    return 1;
  }
  io.stdout(`${JSON.stringify(JSON.parse(policy), null, 2)}\n`);
  return 0;
}
