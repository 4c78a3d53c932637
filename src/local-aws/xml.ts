/**
 * Hand-built XML for the local AWS endpoint: the Query protocol's success and error envelopes
 * (`reference/sts-iam.md` §1.4–1.5) and the few element shapes they hold (text members, lists
 * of `<member>`, timestamps). Every text value is escaped here; characters XML 1.0 cannot carry
 * at all become U+FFFD, so no input can break the document the SDK parses.
 */

/** The XML namespace of each service's API version. */
export const NAMESPACES = {
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
} as const;

// Characters XML 1.0 forbids even as references (C0 controls but tab, LF, CR; lone surrogates;
// U+FFFE/U+FFFF).
const INVALID_XML_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\r': '&#xD;',
};

/** Escapes text for an element body or a double-quoted attribute value. */
export function xmlEscape(value: string): string {
  return value.replace(INVALID_XML_CHARS, '\uFFFD').replace(/[&<>"\r]/g, (c) => ESCAPES[c] ?? c);
}

/** ISO-8601 UTC with milliseconds, the form AWS's timestamps take. */
export function xmlTimestamp(date: Date): string {
  return date.toISOString();
}

/** A scalar member: `<Name>escaped</Name>`, or nothing when the value is undefined. */
export function xmlText(name: string, value: string | number | boolean | Date | undefined): string {
  if (value === undefined) return '';
  const text = value instanceof Date ? xmlTimestamp(value) : String(value);
  return `<${name}>${xmlEscape(text)}</${name}>`;
}

/** A structure member whose body is already XML. */
export function xmlElement(name: string, inner: string): string {
  return `<${name}>${inner}</${name}>`;
}

/** A list member: `<Name><member>…</member>…</Name>`, or `<Name/>` when empty. */
export function xmlList(name: string, itemsXml: readonly string[]): string {
  if (itemsXml.length === 0) return `<${name}/>`;
  return `<${name}>${itemsXml.map((item) => `<member>${item}</member>`).join('')}</${name}>`;
}

const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>\n';

/**
 * `<OpResponse><OpResult>…</OpResult><ResponseMetadata>…</ResponseMetadata></OpResponse>`;
 * with `resultXml` undefined the Result element is left out (operations with no output).
 */
export function successEnvelope(
  operation: string,
  namespace: string,
  resultXml: string | undefined,
  requestId: string,
): string {
  const result = resultXml === undefined ? '' : xmlElement(`${operation}Result`, resultXml);
  return (
    PROLOG +
    `<${operation}Response xmlns="${xmlEscape(namespace)}">` +
    result +
    `<ResponseMetadata>${xmlText('RequestId', requestId)}</ResponseMetadata>` +
    `</${operation}Response>\n`
  );
}

/** `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`. */
export function errorEnvelope(
  namespace: string,
  type: 'Sender' | 'Receiver',
  code: string,
  message: string,
  requestId: string,
): string {
  return (
    PROLOG +
    `<ErrorResponse xmlns="${xmlEscape(namespace)}">` +
    `<Error>${xmlText('Type', type)}${xmlText('Code', code)}${xmlText('Message', message)}</Error>` +
    xmlText('RequestId', requestId) +
    '</ErrorResponse>\n'
  );
}
