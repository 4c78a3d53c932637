/**
 * A strict JSON parser (RFC 8259) for policy templates that says where a problem is, as
 * line and column, and refuses what `JSON.parse` lets through silently: duplicate object keys
 * (`{"Effect":"Deny","Effect":"Allow"}` reads as Deny to a reviewer and means Allow to
 * `JSON.parse`), and numbers that cannot be kept exactly (the rendered policy must say what
 * the file says). Templates are small and parsed once at start-up, so clarity wins over speed.
 */

/** A parsed JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A syntax error at a 1-based line and column. */
export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError';
  readonly line: number;
  readonly column: number;

  constructor(reason: string, line: number, column: number) {
    super(`${line}:${column}: ${reason}`);
    this.line = line;
    this.column = column;
  }
}

const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Parses `text` as one JSON value. A leading byte-order mark is skipped.
 *
 * @throws JsonSyntaxError naming the line and column of the first problem.
 */
export function parseJson(text: string): JsonValue {
  return new Parser(text).parseDocument();
}

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {
    if (text.charCodeAt(0) === 0xfeff) this.pos = 1;
  }

  parseDocument(): JsonValue {
    this.skipSpace();
    const value = this.parseValue(0);
    this.skipSpace();
    if (this.pos < this.text.length) this.fail('unexpected text after the JSON value');
    return value;
  }

  private parseValue(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.parseObject(depth);
      case '[':
        return this.parseArray(depth);
      case '"':
        return this.parseString();
      case 't':
        return this.parseWord('true', true);
      case 'f':
        return this.parseWord('false', false);
      case 'n':
        return this.parseWord('null', null);
      case undefined:
        return this.fail('unexpected end of file, expected a value');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.parseNumber();
        return this.fail(`unexpected ${describe(c)}, expected a value`);
    }
  }

  private parseObject(depth: number): JsonObject {
    const object: JsonObject = {};
    const seen = new Set<string>();
    this.pos++; // {
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return object;
    }
    for (;;) {
      if (this.text[this.pos] !== '"') this.fail(`${this.found()}, expected a "quoted" key`);
      const keyAt = this.pos;
      const key = this.parseString();
      if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
      seen.add(key);
      this.skipSpace();
      this.expect(':');
      this.skipSpace();
      const value = this.parseValue(depth + 1);
      // A plain assignment to "__proto__" would set the prototype instead of a key.
      Object.defineProperty(object, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipSpace();
      if (this.text[this.pos] === ',') {
        this.pos++;
        this.skipSpace();
        continue;
      }
      if (this.text[this.pos] === '}') {
        this.pos++;
        return object;
      }
      this.fail(`${this.found()}, expected ',' or '}'`);
    }
  }

  private parseArray(depth: number): JsonValue[] {
    const array: JsonValue[] = [];
    this.pos++; // [
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return array;
    }
    for (;;) {
      array.push(this.parseValue(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') {
        this.pos++;
        this.skipSpace();
        continue;
      }
      if (this.text[this.pos] === ']') {
        this.pos++;
        return array;
      }
      this.fail(`${this.found()}, expected ',' or ']'`);
    }
  }

  private parseString(): string {
    const start = this.pos;
    this.pos++; // "
    let out = '';
    let runStart = this.pos;
    for (;;) {
      const code = this.text.charCodeAt(this.pos);
      if (Number.isNaN(code)) this.fail('unterminated string', start);
      if (code === 0x22) break; // "
      if (code < 0x20) this.fail('control character in a string: write it as an escape');
      if (code !== 0x5c) {
        this.pos++;
        continue;
      }
      out += this.text.slice(runStart, this.pos);
      const e = this.text[this.pos + 1];
      if (e === 'u') {
        const hex = this.text.slice(this.pos + 2, this.pos + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('\\u must be followed by 4 hex digits');
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.pos += 6;
      } else if (e !== undefined && ESCAPES[e] !== undefined) {
        out += ESCAPES[e];
        this.pos += 2;
      } else {
        this.fail(`invalid escape \\${e ?? ''}`);
      }
      runStart = this.pos;
    }
    out += this.text.slice(runStart, this.pos);
    this.pos++; // "
    return out;
  }

  private parseNumber(): number {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) return this.fail('invalid number');
    const raw = match[0];
    const value = Number(raw);
    const integral = !/[.eE]/.test(raw);
    if (!Number.isFinite(value) || (integral && !Number.isSafeInteger(value))) {
      this.fail(`number ${raw} cannot be kept exactly: write it as a string`);
    }
    this.pos += raw.length;
    return value;
  }

  private parseWord<T>(word: string, value: T): T {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return value;
    }
    return this.fail(`${this.found()}, expected a value`);
  }

  private expect(c: string): void {
    if (this.text[this.pos] !== c) this.fail(`${this.found()}, expected '${c}'`);
    this.pos++;
  }

  private skipSpace(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  private found(): string {
    const c = this.text[this.pos];
    return c === undefined ? 'unexpected end of file' : `unexpected ${describe(c)}`;
  }

  private fail(reason: string, at = this.pos): never {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++) {
      if (this.text.charCodeAt(i) === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new JsonSyntaxError(reason, line, at - lineStart + 1);
  }
}

function describe(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x20 || code > 0x7e
    ? `character U+${code.toString(16).toUpperCase().padStart(4, '0')}`
    : `'${c}'`;
}
