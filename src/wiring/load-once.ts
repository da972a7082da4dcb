// Per-instance lazy loading for the composition root: the first caller starts
// the load, later callers share it. A failed load is forgotten, so the next
// message retries it instead of inheriting one rejected promise for the
// instance's whole life.
export function loadOnce<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () =>
    (value ??= make().catch((error: unknown) => {
      value = undefined;
      throw error;
    }));
}
