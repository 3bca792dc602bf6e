/**
 * A driver module loaded on first use through its importer (the import() lives in the driver's
 * src/sessions folder), or the module the caller passed. A failed import is forgotten so a retry works.
 */
export function lazyModule<M>(importer: () => Promise<unknown>, given: unknown): () => Promise<M> {
  let loading: Promise<M> | undefined =
    given === undefined ? undefined : Promise.resolve(unwrapDefault<M>(given));
  return () => {
    loading ??= importer().then(unwrapDefault<M>, (error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}

function unwrapDefault<M>(module: unknown): M {
  return ((module as { default?: M }).default ?? module) as M;
}

/** Runs `end` when `signal` aborts during `opening`, and rethrows the abort reason. */
export async function abortable<C>(signal: AbortSignal, opening: Promise<C>, end: () => unknown): Promise<C> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      Promise.resolve()
        .then(end)
        .catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([opening, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
    // A late failure of the losing side must not surface as an unhandled rejection.
    opening.catch(() => {});
  }
}
