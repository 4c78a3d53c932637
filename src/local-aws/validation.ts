/**
 * Parameter validation in AWS's words. STS and IAM check every syntactic constraint of a
 * request before anything else and report all violations in one 400 `ValidationError`:
 * "2 validation errors detected: Value 'x' at 'name' failed to satisfy constraint: …; …",
 * members named in lowerCamelCase (`reference/sts-iam.md` §1.5). `Violations` collects them.
 */
import { AwsError } from './aws-error.js';

/** The patterns the STS/IAM models use, with the text AWS prints for each. */
export const PATTERNS = {
  userName: { regex: /^[\w+=,.@-]*$/, text: '[\\w+=,.@-]*' },
  userNamePlus: { regex: /^[\w+=,.@-]+$/, text: '[\\w+=,.@-]+' },
  policyText: {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: AWS's pattern names these controls.
    regex: /^[\u0009\u000A\u000D\u0020-\u00FF]+$/,
    text: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+',
  },
  tagKey: { regex: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u, text: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+' },
  tagValue: { regex: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u, text: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*' },
  externalId: { regex: /^[\w+=,.@:/-]*$/, text: '[\\w+=,.@:\\/-]*' },
} as const;

export interface Pattern {
  regex: RegExp;
  text: string;
}

/** Collects constraint violations of one request, in the order they are found. */
export class Violations {
  readonly #messages: string[] = [];
  readonly #sensitive: ReadonlySet<string>;

  /** @param sensitive members whose value must never be quoted (tokens). */
  constructor(sensitive: readonly string[] = []) {
    this.#sensitive = new Set(sensitive);
  }

  get count(): number {
    return this.#messages.length;
  }

  #quote(member: string, value: string): string {
    return this.#sensitive.has(member) ? "'***'" : `'${value}'`;
  }

  /** Records a raw violation text, e.g. a rule that is not about one member's syntax. */
  add(message: string): void {
    this.#messages.push(message);
  }

  /** Records `constraint` against `member`. */
  fail(member: string, value: string | null, constraint: string): void {
    const quoted = value === null ? 'null' : this.#quote(member, value);
    this.#messages.push(
      `Value ${quoted} at '${member}' failed to satisfy constraint: ${constraint}`,
    );
  }

  /** A required member is present; records "Member must not be null" when it is not. */
  required(member: string, value: string | undefined): value is string {
    if (value !== undefined) return true;
    this.fail(member, null, 'Member must not be null');
    return false;
  }

  /** String length (UTF-16 units, as AWS's Java counts) within [min, max]. */
  length(member: string, value: string, min: number, max?: number): void {
    if (value.length < min) {
      this.fail(member, value, `Member must have length greater than or equal to ${min}`);
    }
    if (max !== undefined && value.length > max) {
      this.fail(member, value, `Member must have length less than or equal to ${max}`);
    }
  }

  /** The value matches the whole `pattern`. */
  pattern(member: string, value: string, pattern: Pattern): void {
    if (!pattern.regex.test(value)) {
      this.fail(member, value, `Member must satisfy regular expression pattern: ${pattern.text}`);
    }
  }

  /** A list has at most `max` entries. */
  listLength(member: string, size: number, max: number): void {
    if (size > max) {
      this.fail(member, `[${size} items]`, `Member must have length less than or equal to ${max}`);
    }
  }

  /**
   * Parses an integer member and checks its range; undefined when absent or not an integer
   * (the latter is recorded).
   */
  integer(member: string, value: string | undefined, min: number, max: number): number | undefined {
    if (value === undefined) return undefined;
    if (!/^-?\d{1,15}$/.test(value.trim())) {
      this.fail(member, value, 'Member must be an integer');
      return undefined;
    }
    const n = Number(value.trim());
    if (n < min)
      this.fail(member, String(n), `Member must have value greater than or equal to ${min}`);
    if (n > max)
      this.fail(member, String(n), `Member must have value less than or equal to ${max}`);
    return n;
  }

  /** Throws the collected violations as one `ValidationError`, if there are any. */
  throwIfAny(): void {
    const n = this.#messages.length;
    if (n === 0) return;
    const head = n === 1 ? '1 validation error detected: ' : `${n} validation errors detected: `;
    throw validationError(head + this.#messages.join('; '));
  }
}

export const validationError = (message: string): AwsError =>
  new AwsError('ValidationError', 400, message);
