/**
 * Makes a driver error's `sql` property non-enumerable. mysql2 puts the statement with every parameter
 * value interpolated there (a password a failing INSERT carried, say), and console.log, util.inspect and
 * JSON print enumerable properties; the value stays readable for code that asks for it by name.
 */
export function concealSql(error: unknown): void {
  if (typeof error !== 'object' || error === null) return;
  const descriptor = Object.getOwnPropertyDescriptor(error, 'sql');
  if (descriptor?.enumerable !== true || descriptor.configurable !== true) return;
  Object.defineProperty(error, 'sql', { ...descriptor, enumerable: false });
}
