// strftime(3) for file names, in the C locale and local time, as tcpdump -G
// formats its -w argument (it calls strftime on the name with localtime()).
// Covers the conversions of C99/POSIX; an unknown conversion is kept as
// written, like glibc does.

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function pad(n: number, width: number, fill = '0'): string {
  return String(n).padStart(width, fill);
}

/** Day of the year, 0-based (tm_yday). */
function dayOfYear(d: Date): number {
  const start = new Date(d.getFullYear(), 0, 1);
  // Whole days between local midnights; rounding absorbs a DST hour.
  return Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime() - start.getTime()) / 86_400_000);
}

/** ISO 8601 week-based year and week number (%G, %V). */
function isoWeek(d: Date): { year: number; week: number } {
  const wday = (d.getDay() + 6) % 7; // Monday = 0
  const thursday = new Date(d.getFullYear(), d.getMonth(), d.getDate() - wday + 3);
  const firstThursday = new Date(thursday.getFullYear(), 0, 4);
  const firstWday = (firstThursday.getDay() + 6) % 7;
  const week1Monday = new Date(firstThursday.getFullYear(), 0, 4 - firstWday);
  return { year: thursday.getFullYear(), week: 1 + Math.round((thursday.getTime() - week1Monday.getTime()) / (7 * 86_400_000)) };
}

function utcOffset(d: Date): string {
  const minutes = -d.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60), 2)}${pad(abs % 60, 2)}`;
}

function zoneName(d: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
  return part?.value ?? '';
}

function convert(c: string, d: Date): string | undefined {
  const hour12 = d.getHours() % 12 === 0 ? 12 : d.getHours() % 12;
  switch (c) {
    case 'a': return DAYS[d.getDay()].slice(0, 3);
    case 'A': return DAYS[d.getDay()];
    case 'b': case 'h': return MONTHS[d.getMonth()].slice(0, 3);
    case 'B': return MONTHS[d.getMonth()];
    case 'c': return `${convert('a', d)} ${convert('b', d)} ${convert('e', d)} ${convert('T', d)} ${d.getFullYear()}`;
    case 'C': return pad(Math.floor(d.getFullYear() / 100), 2);
    case 'd': return pad(d.getDate(), 2);
    case 'D': case 'x': return `${pad(d.getMonth() + 1, 2)}/${pad(d.getDate(), 2)}/${pad(d.getFullYear() % 100, 2)}`;
    case 'e': return pad(d.getDate(), 2, ' ');
    case 'F': return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1, 2)}-${pad(d.getDate(), 2)}`;
    case 'g': return pad(isoWeek(d).year % 100, 2);
    case 'G': return String(isoWeek(d).year);
    case 'H': return pad(d.getHours(), 2);
    case 'I': return pad(hour12, 2);
    case 'j': return pad(dayOfYear(d) + 1, 3);
    case 'k': return pad(d.getHours(), 2, ' ');
    case 'l': return pad(hour12, 2, ' ');
    case 'm': return pad(d.getMonth() + 1, 2);
    case 'M': return pad(d.getMinutes(), 2);
    case 'n': return '\n';
    case 'p': return d.getHours() < 12 ? 'AM' : 'PM';
    case 'P': return d.getHours() < 12 ? 'am' : 'pm';
    case 'r': return `${pad(hour12, 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)} ${convert('p', d)}`;
    case 'R': return `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}`;
    case 's': return String(Math.floor(d.getTime() / 1000));
    case 'S': return pad(d.getSeconds(), 2);
    case 't': return '\t';
    case 'T': case 'X': return `${pad(d.getHours(), 2)}:${pad(d.getMinutes(), 2)}:${pad(d.getSeconds(), 2)}`;
    case 'u': return String(d.getDay() === 0 ? 7 : d.getDay());
    // %U: weeks starting on Sunday, %W: on Monday; days before the first such day are week 0.
    case 'U': return pad(Math.floor((dayOfYear(d) + 7 - d.getDay()) / 7), 2);
    case 'V': return pad(isoWeek(d).week, 2);
    case 'w': return String(d.getDay());
    case 'W': return pad(Math.floor((dayOfYear(d) + 7 - ((d.getDay() + 6) % 7)) / 7), 2);
    case 'y': return pad(d.getFullYear() % 100, 2);
    case 'Y': return String(d.getFullYear());
    case 'z': return utcOffset(d);
    case 'Z': return zoneName(d);
    case '%': return '%';
    default: return undefined;
  }
}

/** Formats `template` like strftime(3) with localtime(); unknown conversions stay as written. */
export function strftime(template: string, when: Date): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i];
    if (ch !== '%' || i + 1 >= template.length) {
      out += ch;
      continue;
    }
    const c = template[++i];
    out += convert(c, when) ?? `%${c}`;
  }
  return out;
}

/** True when the template has a time conversion (so -G file names differ over time). */
export function hasTimeConversion(template: string): boolean {
  return /%[^%ntr]/.test(template.replace(/%%/g, ''));
}
