import { isSecretParameter } from './dsn.js';

/**
 * Free text (a driver's error message, a log line) with its secrets replaced by `***`: the userinfo
 * password of each URL in it (`scheme://user:password@host`, and the slash-less forms `scheme:/u:pw@h`,
 * `u:pw@h:5432`) and the value of every password-like key (password, pwd, pw, secret, token, key,
 * percent-encoded or not) written as `key=value`, `key = 'quoted value'`, `key: value` or JSON
 * `"key":"value"`. Two passes over the text, each visiting a character a bounded number of times:
 * linear time whatever the input.
 */
export function redactSecrets(text: string): string {
  return redactKeyValues(redactUrls(text));
}

/** Word by word: the password of each URL-like word (one per `://`, so a list of URLs keeps its text). */
function redactUrls(text: string): string {
  let out = '';
  let start = 0;
  for (let index = 0; index <= text.length; index += 1) {
    if (index === text.length || isWordEnd(text.charCodeAt(index))) {
      if (index > start) out += redactUrlWord(text.slice(start, index));
      if (index < text.length) out += text[index];
      start = index + 1;
    }
  }
  return out;
}

function isWordEnd(code: number): boolean {
  return code <= 0x20 || code === 0x22 || code === 0x27 || code === 0x60 || code === 0x3c || code === 0x3e;
}

function redactUrlWord(word: string): string {
  if (!word.includes('@')) return word;
  // One region per URL: from a scheme's '://' to the start of the next scheme, unless the current URL's
  // userinfo is still open (a ':' after its '://' and no '@' yet): then that '://' is inside a password.
  const regions: number[] = [0];
  let scanned = 0;
  let inUrl = false;
  let open = false;
  for (let at = word.indexOf('://'); at !== -1; at = word.indexOf('://', at + 3)) {
    for (; scanned < at; scanned += 1) {
      const code = word.charCodeAt(scanned);
      if (code === 0x40 /* @ */) open = false;
      else if (code === 0x3a /* : */ && inUrl && !open) open = true;
    }
    let schemeStart = at;
    while (schemeStart > 0 && isSchemeChar(word.charCodeAt(schemeStart - 1))) schemeStart -= 1;
    if (!open) {
      if (schemeStart > regions[regions.length - 1]!) regions.push(schemeStart);
      inUrl = true;
    }
    scanned = at + 3;
  }
  let out = '';
  for (let index = 0; index < regions.length; index += 1) {
    out += redactUserinfo(word.slice(regions[index], regions[index + 1] ?? word.length));
  }
  return out;
}

/** The text between the userinfo's first ':' (not one of "scheme:/") and the last '@' becomes ***. */
function redactUserinfo(url: string): string {
  const at = url.lastIndexOf('@');
  if (at === -1) return url;
  const scheme = url.indexOf('://');
  let colon = url.indexOf(':', scheme === -1 ? 0 : scheme + 3);
  while (colon !== -1 && colon < at && url.charCodeAt(colon + 1) === 0x2f /* / */) {
    colon = url.indexOf(':', colon + 1);
  }
  if (colon === -1 || colon >= at) return url;
  return `${url.slice(0, colon + 1)}***${url.slice(at)}`;
}

function isSchemeChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2b ||
    code === 0x2d ||
    code === 0x2e
  );
}

/** Every `key = value` whose key names a secret, with the value (quoted or not) replaced by ***. */
function redactKeyValues(text: string): string {
  let out = '';
  let copied = 0;
  let index = 0;
  while (index < text.length) {
    if (!isKeyChar(text.charCodeAt(index))) {
      index += 1;
      continue;
    }
    const keyStart = index;
    let keyEnd = index;
    let assign = -1; // where the value starts, when the key ends in an encoded '=' or ':'
    while (keyEnd < text.length && isKeyChar(text.charCodeAt(keyEnd))) {
      if (text.charCodeAt(keyEnd) === 0x25 /* % */ && isEncodedAssign(text, keyEnd)) {
        assign = keyEnd + 3;
        break;
      }
      keyEnd += 1;
    }
    index = Math.max(keyEnd, keyStart + 1);
    const valueStart = assign === -1 ? afterAssign(text, keyEnd) : assign;
    if (valueStart === -1 || !isSecretParameter(text.slice(keyStart, keyEnd))) continue;
    const valueEnd = endOfValue(text, valueStart);
    const quote = text.charCodeAt(valueStart);
    const quoted = isQuote(quote);
    const closed = quoted && valueEnd - 1 > valueStart && text.charCodeAt(valueEnd - 1) === quote;
    out += text.slice(copied, quoted ? valueStart + 1 : valueStart);
    out += '***';
    copied = closed ? valueEnd - 1 : valueEnd;
    index = valueEnd;
  }
  return out + text.slice(copied);
}

/** Letters, digits, '_', '-', '.' and '%' (encoded keys). */
function isKeyChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x5f ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x25
  );
}

/** `%3D` or `%3A` (an encoded '=' or ':') at `index`. */
function isEncodedAssign(text: string, index: number): boolean {
  if (text.charCodeAt(index + 1) !== 0x33 /* 3 */) return false;
  const code = text.charCodeAt(index + 2) | 0x20;
  return code === 0x64 /* d */ || code === 0x61 /* a */;
}

/** After a key: an optional closing quote, spaces, '=' or ':', spaces; the value's start, or -1. */
function afterAssign(text: string, from: number): number {
  let index = from;
  if (isQuote(text.charCodeAt(index))) index += 1;
  while (isBlank(text.charCodeAt(index))) index += 1;
  const code = text.charCodeAt(index);
  if (code !== 0x3d /* = */ && code !== 0x3a /* : */) return -1;
  // "scheme://" is a URL, not a key and its value.
  if (code === 0x3a && text.charCodeAt(index + 1) === 0x2f) return -1;
  index += 1;
  while (isBlank(text.charCodeAt(index))) index += 1;
  return index;
}

/** The end of the value at `from`: past its closing quote, or at the first blank or delimiter. */
function endOfValue(text: string, from: number): number {
  const quote = text.charCodeAt(from);
  if (isQuote(quote)) {
    for (let index = from + 1; index < text.length; index += 1) {
      const code = text.charCodeAt(index);
      if (code === 0x5c /* \ */) index += 1;
      else if (code === quote) return index + 1;
      else if (code === 0x0a) return index;
    }
    return text.length;
  }
  let index = from;
  while (index < text.length && !isValueEnd(text.charCodeAt(index))) index += 1;
  return index;
}

function isValueEnd(code: number): boolean {
  return (
    code <= 0x20 ||
    isQuote(code) ||
    code === 0x26 /* & */ ||
    code === 0x3b /* ; */ ||
    code === 0x2c /* , */ ||
    code === 0x7d /* } */ ||
    code === 0x29 /* ) */ ||
    code === 0x5d /* ] */ ||
    code === 0x3e /* > */
  );
}

function isQuote(code: number): boolean {
  return code === 0x22 || code === 0x27 || code === 0x60;
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}
