/**
 * The keyvend variables a policy template may use, how they are found inside a string, and
 * the one character set a substituted value must keep to. Everything that is not a
 * `${keyvend:…}` variable — IAM's own `${aws:userid}`, `${aws:PrincipalTag/x}`, `${s3:prefix}`,
 * the escapes `${*}`, `${?}`, `${$}` — is plain text to keyvend and reaches AWS untouched.
 */

/** The values a device's policy is rendered with. */
export interface RenderValues {
  /** The principal name STS sees (federated user name or role session name). */
  principal: string;
  device: string;
  profile: string;
  /** 12-digit AWS account id. */
  account: string;
  region: string;
  /** The user the device is linked to; null for an anonymous device. */
  user: string | null;
  /** The profile's `params`, for `${keyvend:param/NAME}`. */
  params: Readonly<Record<string, string>>;
}

/** The fixed variables, by their full name as written inside `${…}`. */
export const FIXED_VARIABLES = [
  'keyvend:principal',
  'keyvend:device',
  'keyvend:profile',
  'keyvend:account',
  'keyvend:region',
  'keyvend:user',
] as const;

/** `${keyvend:param/NAME}`: NAME as the config schema allows for `params` keys. */
const PARAM_VARIABLE = /^keyvend:param\/([A-Za-z][A-Za-z0-9_]{0,63})$/;

/** Where a keyvend variable starts: `${`, optional blanks, `keyvend:` in any letter case. */
const VARIABLE_START = /\$\{\s*keyvend:/gi;

/** Longest value a variable may be replaced with. */
export const MAX_VALUE_LENGTH = 128;

/** A piece of a template string: literal text, or a variable by its full name. */
export type Segment = { text: string } | { variable: string };

/** Reads a value out of `RenderValues`; `undefined` when the value is not there at all. */
export type ValueGetter = (values: RenderValues) => string | null | undefined;

/**
 * The getter for a known variable name, or undefined when the name is not a keyvend variable.
 * Params are read as own properties only, so `${keyvend:param/constructor}` is never
 * `Object.prototype.constructor`.
 */
export function valueGetter(name: string): ValueGetter | undefined {
  switch (name) {
    case 'keyvend:principal':
      return (v) => v.principal;
    case 'keyvend:device':
      return (v) => v.device;
    case 'keyvend:profile':
      return (v) => v.profile;
    case 'keyvend:account':
      return (v) => v.account;
    case 'keyvend:region':
      return (v) => v.region;
    case 'keyvend:user':
      return (v) => v.user;
  }
  const param = PARAM_VARIABLE.exec(name)?.[1];
  if (param === undefined) return undefined;
  return (v) => (Object.hasOwn(v.params, param) ? v.params[param] : undefined);
}

/** The NAME of `keyvend:param/NAME`, else undefined. */
export function paramName(variable: string): string | undefined {
  return PARAM_VARIABLE.exec(variable)?.[1];
}

/** True when `text` contains anything that starts like a keyvend variable. */
export function mentionsKeyvendVariable(text: string): boolean {
  VARIABLE_START.lastIndex = 0;
  return VARIABLE_START.test(text);
}

/**
 * Splits a template string into literal text and keyvend variables. Problems (an unknown
 * variable, a missing `}`) are pushed to `problems` and the offending text kept literal.
 */
export function splitVariables(text: string, problems: string[]): Segment[] {
  const segments: Segment[] = [];
  let literalFrom = 0;
  VARIABLE_START.lastIndex = 0;
  for (let m = VARIABLE_START.exec(text); m !== null; m = VARIABLE_START.exec(text)) {
    const start = m.index;
    const end = text.indexOf('}', start);
    if (end === -1) {
      problems.push(`unterminated variable ${JSON.stringify(text.slice(start))}: missing '}'`);
      break;
    }
    const name = text.slice(start + 2, end);
    if (valueGetter(name) === undefined) {
      problems.push(`unknown variable \${${name}}${hint(name)}`);
    } else {
      if (start > literalFrom) segments.push({ text: text.slice(literalFrom, start) });
      segments.push({ variable: name });
      literalFrom = end + 1;
    }
    VARIABLE_START.lastIndex = end + 1;
  }
  if (literalFrom < text.length || segments.length === 0) {
    segments.push({ text: text.slice(literalFrom) });
  }
  return segments;
}

function hint(name: string): string {
  if (name.includes(',')) return ' (keyvend variables take no default value)';
  if (/^keyvend:param\//i.test(name)) {
    return ' (param names are a letter then up to 63 letters, digits or _)';
  }
  return ` (known: ${[...FIXED_VARIABLES, 'keyvend:param/NAME'].map((v) => `\${${v}}`).join(', ')})`;
}

// Letters, digits and _+=,.@:/- only: no wildcard (* ?), no variable syntax ($ { }), no quote,
// backslash, blank or control character, nothing outside ASCII.
const SAFE = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+=,.@:/-') {
  SAFE[c.charCodeAt(0)] = 1;
}

/**
 * Why `value` may not be substituted into a policy, or undefined when it may: 1–128
 * characters of letters, digits and `_+=,.@:/-`. Never quotes the value (it is untrusted).
 */
export function unsafeValueReason(value: string): string | undefined {
  if (value.length === 0) return 'is empty';
  if (value.length > MAX_VALUE_LENGTH) return `is longer than ${MAX_VALUE_LENGTH} characters`;
  for (let i = 0; i < value.length; i++) {
    if (SAFE[value.charCodeAt(i)] !== 1) {
      return 'contains a character other than letters, digits and _+=,.@:/-';
    }
  }
  return undefined;
}
