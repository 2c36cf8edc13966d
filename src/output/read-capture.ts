// Opens a capture file of either format, turning every failure into a
// UserError that says what was wrong with which file.
import { promises as fs } from 'node:fs';
import { UserError } from '../errors';
import { CaptureFormatError, type CaptureFile } from './capture-file';
import { isPcap, readPcap } from './pcap-reader';
import { isPcapng, readPcapng } from './pcapng-reader';

/** Parses a whole pcap or pcapng file held in memory. */
export function parseCapture(buf: Buffer): CaptureFile {
  if (isPcapng(buf)) return readPcapng(buf);
  if (isPcap(buf)) return readPcap(buf);
  throw new CaptureFormatError(buf.length < 4 ? `the file is too short (${buf.length} bytes) to be a capture` : `unknown file format (starts with 0x${buf.subarray(0, 4).toString('hex')})`);
}

export async function readCaptureFile(file: string): Promise<CaptureFile> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UserError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.message}`, 'give the path of a pcap or pcapng file (-r FILE)', err.stack);
  }
  try {
    return parseCapture(buf);
  } catch (e) {
    if (e instanceof CaptureFormatError) {
      throw new UserError(`${file} is not a capture file netcap can read: ${e.message}`, 'netcap reads pcap (tcpdump -w) and pcapng files', e.stack);
    }
    throw e;
  }
}
