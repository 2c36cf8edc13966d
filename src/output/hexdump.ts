// Hex dumps in the layout of tcpdump's -x / -X: 16 bytes a line, offset
// first, bytes in pairs, and with ascii the printable characters at the end.

export function hexdump(data: Uint8Array, ascii: boolean): string {
  const lines: string[] = [];
  for (let off = 0; off < data.length; off += 16) {
    const chunk = data.subarray(off, Math.min(off + 16, data.length));
    let hex = '';
    for (let i = 0; i < chunk.length; i += 2) {
      hex += ' ' + chunk[i].toString(16).padStart(2, '0') + (i + 1 < chunk.length ? chunk[i + 1].toString(16).padStart(2, '0') : '');
    }
    let line = `\t0x${off.toString(16).padStart(4, '0')}: ${hex}`;
    if (ascii) {
      const text = Array.from(chunk, (b) => (b > 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
      line = line.padEnd(49, ' ') + '  ' + text; // the ascii column starts where a full line's hex would end, plus two spaces
    }
    lines.push(line);
  }
  return lines.join('\n');
}
