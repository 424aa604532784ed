/**
 * RFC 3339 date-times that JavaScript and PostgreSQL both read the same way: an explicit offset
 * (or Z), a year PostgreSQL can store, and an offset within what it accepts (±15:59). Operators
 * pass them as query parameters; anything else is a 400, never a database error.
 */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-](\d{2}):(\d{2}))$/i;

export function isStorableDateTime(text: string): boolean {
  const m = RFC3339.exec(text);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (year === undefined || year < 1) return false;
  if (month === undefined || month < 1 || month > 12) return false;
  if (day === undefined || day < 1 || day > 31) return false;
  if (hour === undefined || hour > 23 || minute === undefined || minute > 59) return false;
  // A leap second (:60) would be silently rolled into the next minute by PostgreSQL.
  if (second === undefined || second > 59) return false;
  if (m[9] !== undefined && (Number(m[9]) > 15 || Number(m[10]) > 59)) return false;
  // February 31st and friends: the day must exist in that month.
  const probe = new Date(Date.UTC(2000, month - 1, day));
  probe.setUTCFullYear(year);
  return probe.getUTCDate() === day;
}
