/** The retry policy of the demo's transfers: enough attempts to ride out heavy contention, short waits. */
export const demoPolicy: {
  readonly maxRetries: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
} = Object.freeze({ maxRetries: 50, initialDelayMs: 2, maxDelayMs: 50 });
