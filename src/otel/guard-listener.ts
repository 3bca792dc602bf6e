/**
 * Wraps a diagnostics_channel listener so that what it throws never reaches the process: node rethrows a
 * subscriber's error on the next tick, as an uncaughtException, which would crash the service because an
 * exporter, meter or counter misbehaved. The first failure of each guarded listener set is reported once
 * with process.emitWarning (the thrower's class and first line; telemetry code, not database content).
 */
export function listenerGuard(
  owner: string,
): (listener: (message: unknown) => void) => (message: unknown) => void {
  let warned = false;
  return (listener) => (message) => {
    try {
      listener(message);
    } catch (error) {
      if (warned) return;
      warned = true;
      const name = error instanceof Error ? error.name : typeof error;
      const text = error instanceof Error ? (error.message.split('\n')[0] ?? '').slice(0, 200) : '';
      process.emitWarning(
        `${owner}: a listener threw and was ignored (further failures are silent): ${name}: ${text}`,
        {
          code: 'DBOP_OTEL_LISTENER_FAILED',
        },
      );
    }
  };
}
