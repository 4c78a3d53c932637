/**
 * The start-up check of policy templates: load every template of the policies directory and
 * lint each profile's template with its params, so that a template an operator got wrong
 * stops keyvend at start, not at the first device's request.
 */
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { lintAll } from './lint.js';
import { loadTemplates, type PolicyTemplate } from './template.js';

export interface ProfilePolicies {
  /** Every template of the policies directory, by file name. */
  templates: Map<string, PolicyTemplate>;
  /** Lint warnings, each naming the profile: worth a log line at start. */
  warnings: string[];
}

/**
 * Loads and lints the templates every profile names.
 *
 * @throws ConfigError naming the config file and, for each problem, the profile and
 *   template, e.g. `keyvend.json: profiles.mobile.policy (device.json): Statement[0].Effect: …`.
 *   A template that does not parse throws `loadTemplates`'s ConfigError instead.
 */
export async function loadProfilePolicies(config: Config): Promise<ProfilePolicies> {
  const templates = await loadTemplates(config.policiesDir);
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const report of lintAll(config, templates)) {
    const label = `profiles.${report.profile}.policy (${report.template})`;
    for (const e of report.errors) problems.push(`${label}: ${e}`);
    for (const w of report.warnings) warnings.push(`${label}: ${w}`);
  }
  if (problems.length > 0) throw new ConfigError(config.file, problems);
  return { templates, warnings };
}
