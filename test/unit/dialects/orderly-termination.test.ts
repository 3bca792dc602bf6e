import { describe, expect, it } from 'vitest';
import { isOrderlyTermination } from '../../../src/dialects/postgres/orderly-termination.js';

function serverError(fields: { code: string; severity: string }): Error {
  return Object.assign(new Error('terminating connection'), fields);
}

describe('isOrderlyTermination', () => {
  it('is true for the FATAL ErrorResponses ProcessInterrupts sends before exiting, localized or not', () => {
    for (const code of ['57P01', '57P05', '25P03', '25P04']) {
      expect(isOrderlyTermination(serverError({ code, severity: 'FATAL' }))).toBe(true);
    }
    expect(isOrderlyTermination(serverError({ code: '57P01', severity: 'SCHWERWIEGEND' }))).toBe(true);
  });

  it('is false for a crash reset, a socket error, an ordinary SQL error or a non-error', () => {
    expect(isOrderlyTermination(serverError({ code: '57P02', severity: 'FATAL' }))).toBe(false);
    expect(isOrderlyTermination(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(
      false,
    );
    expect(isOrderlyTermination(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(isOrderlyTermination(serverError({ code: '40001', severity: 'ERROR' }))).toBe(false);
    // No severity: not an ErrorResponse (a code copied onto some other error).
    expect(isOrderlyTermination(Object.assign(new Error('x'), { code: '57P01' }))).toBe(false);
    expect(isOrderlyTermination({ code: '57P01', severity: 'FATAL' })).toBe(false);
  });
});
