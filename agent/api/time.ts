// How Kubernetes writes times: metav1.Time is RFC 3339 in whole seconds, UTC;
// metav1.MicroTime (Lease renewTime, Event eventTime) keeps six fractional digits,
// which the apiserver requires. Fractions below the unit are dropped, as Go's
// time formatting truncates.

/** metav1.Time: `2026-03-04T05:06:07Z`. */
export function formatTime(at: Date | number): string {
  const ms = typeof at === 'number' ? at : at.getTime();
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** metav1.MicroTime: `2026-01-01T00:00:00.123000Z` (a Date holds milliseconds). */
export function formatMicroTime(at: Date | number): string {
  return new Date(at).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
