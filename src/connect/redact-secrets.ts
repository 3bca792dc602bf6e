/**
 * Free text (a driver's error message, a log line) with the passwords of any URLs in it replaced by
 * `***`: the userinfo password of `scheme://user:password@host` (up to the word's last '@') and the
 * value of any password-like `key=value` (password, pass, pwd, sslpassword, percent-encoded or not). One
 * pass over the text, word by word: linear time whatever the input.
 */
export function redactSecrets(text: string): string {
  let out = '';
  let start = 0;
  for (let index = 0; index <= text.length; index += 1) {
    if (index === text.length || isSeparator(text.charCodeAt(index))) {
      if (index > start) out += redactWord(text.slice(start, index));
      if (index < text.length) out += text[index];
      start = index + 1;
    }
  }
  return out;
}

function isSeparator(code: number): boolean {
  return code <= 0x20 || code === 0x22 || code === 0x27 || code === 0x60 || code === 0x3c || code === 0x3e;
}

function redactWord(word: string): string {
  let result = word;
  const scheme = result.indexOf('://');
  if (scheme !== -1) {
    const at = result.lastIndexOf('@');
    const colon = result.indexOf(':', scheme + 3);
    if (at > scheme && colon !== -1 && colon < at)
      result = `${result.slice(0, colon + 1)}***${result.slice(at)}`;
  }
  return result.includes('=') ? redactParameters(result) : result;
}

/** Replaces the values of password-like `key=value` pairs separated by ?, & or ;. */
function redactParameters(word: string): string {
  let out = '';
  let start = 0;
  for (let index = 0; index <= word.length; index += 1) {
    const char = word[index];
    if (index === word.length || char === '?' || char === '&' || char === ';') {
      out += redactPair(word.slice(start, index));
      if (index < word.length) out += char;
      start = index + 1;
    }
  }
  return out;
}

function redactPair(pair: string): string {
  const equals = pair.indexOf('=');
  if (equals === -1) return pair;
  const key = pair.slice(0, equals);
  return isSecretKey(key) ? `${key}=***` : pair;
}

function isSecretKey(key: string): boolean {
  let decoded = key;
  try {
    decoded = decodeURIComponent(key.replaceAll('+', ' '));
  } catch {
    // An undecodable key is compared as written.
  }
  const lower = decoded.toLowerCase();
  return lower.includes('pass') || lower === 'pwd' || lower.includes('secret');
}
