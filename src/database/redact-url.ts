// Up to the last '@' of the URL: a password may hold an unencoded '/', '?', '#' or '@'.
const userinfoPassword = /([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)\S*@/gi;
const queryPassword = /([?&](?:password|pass|pwd)=)[^&#\s]*/gi;

/** Replaces every password in `text` (URL userinfo or a `password=` query parameter) with `***`. */
export function redactUrl(text: string): string {
  return text.replace(userinfoPassword, '$1***@').replace(queryPassword, '$1***');
}
