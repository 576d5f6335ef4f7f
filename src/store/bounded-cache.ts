/**
 * lru-cache options for a cache of at most `entries` entries that allocates as it fills. With
 * `max`, lru-cache allocates its arrays for every entry up front (a 200,000-entry store is ~10 MB
 * before the first request, heap that every garbage collection walks); counted as a size of one
 * per entry, the bound is the same and the arrays grow with what is stored.
 */
export function entriesAtMost(entries: number): { readonly maxSize: number; readonly sizeCalculation: () => number } {
  return { maxSize: entries, sizeCalculation: () => 1 };
}
