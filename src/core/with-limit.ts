/** Waits for work, at most limitMs (none when undefined): rejects with 'cleanup timed out' past it. */
export async function withLimit(work: Promise<void>, limitMs: number | undefined): Promise<void> {
  if (limitMs === undefined) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('cleanup timed out')), limitMs);
  });
  try {
    await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}
