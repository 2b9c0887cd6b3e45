/** Time and date labels, in the reader's locale. Formatters are built once: constructing them is slow. */

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

export function formatTime(date: Date): string {
  return timeFmt.format(date);
}

export function formatFull(date: Date): string {
  return fullFmt.format(date);
}

/** Local calendar day as a sortable number, e.g. 20250314. */
export function dayNumber(date: Date): number {
  return date.getFullYear() * 10000 + (date.getMonth() + 1) * 100 + date.getDate();
}

export function formatDay(date: Date, now: Date = new Date()): string {
  const day = dayNumber(date);
  if (day === dayNumber(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (day === dayNumber(yesterday)) return 'Yesterday';
  return date.getFullYear() === now.getFullYear() ? dayFmt.format(date) : dayYearFmt.format(date);
}
