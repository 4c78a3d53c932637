/**
 * Renders a compiled policy template for one device: the hot path of every vend. Each
 * variable the template uses is read once, checked against the safe character set and
 * slotted between the precompiled literal chunks; nothing is parsed or scanned per request.
 * A safe value needs no JSON escaping and holds no wildcard or variable syntax, so a rendered
 * policy always has the template's structure and grants nothing the template did not.
 */
import type { PolicyTemplate } from './template.js';
import { type RenderValues, unsafeValueReason } from './variables.js';

export type { RenderValues } from './variables.js';

/**
 * A template could not be rendered with the values given. Deliberately not a `KeyvendError`:
 * the caller decides what a device sees (a device without a user for a `${keyvend:user}`
 * template is not the same failure as a bad config value). The message names the variable
 * and never the value, which may be hostile.
 */
export class PolicyRenderError extends Error {
  override readonly name = 'PolicyRenderError';
  /** Full variable name, e.g. `keyvend:user`. */
  readonly variable: string;
  /** `missing`: no value (user null, param absent); `unsafe`: outside the safe set. */
  readonly reason: 'missing' | 'unsafe';
  readonly template: string;

  constructor(template: string, variable: string, reason: 'missing' | 'unsafe', detail: string) {
    super(`policy template ${template}: \${${variable}} ${detail}`);
    this.template = template;
    this.variable = variable;
    this.reason = reason;
  }
}

/**
 * Renders `template` with `values` as minified JSON, ready for STS's `Policy` parameter.
 *
 * @throws PolicyRenderError when a variable the template uses has no value or a value outside
 *   1–128 characters of letters, digits and `_+=,.@:/-`.
 *
 * @example
 * ```ts
 * const policy = renderPolicy(template, {
 *   principal: 'kv-d-…', device: 'd-…', profile: 'mobile', account: '123456789012',
 *   region: 'eu-west-1', user: null, params: { bucket: 'my-app-data' },
 * });
 * ```
 */
export function renderPolicy(template: PolicyTemplate, values: RenderValues): string {
  const { chunks, slots, variables } = template.plan;
  const resolved: string[] = new Array(variables.length);
  for (let i = 0; i < variables.length; i++) {
    const variable = variables[i]!;
    const value = variable.get(values);
    if (typeof value !== 'string') {
      const detail =
        variable.name === 'keyvend:user'
          ? 'needs a device linked to a user, and this device has none'
          : 'has no value';
      throw new PolicyRenderError(template.name, variable.name, 'missing', detail);
    }
    const unsafe = unsafeValueReason(value);
    if (unsafe !== undefined) {
      throw new PolicyRenderError(template.name, variable.name, 'unsafe', `value ${unsafe}`);
    }
    resolved[i] = value;
  }
  let out = chunks[0]!;
  for (let i = 0; i < slots.length; i++) out += resolved[slots[i]!]! + chunks[i + 1]!;
  return out;
}
