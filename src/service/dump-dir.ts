// The service's dump directory: one folder per capture (DIR/<capture>/)
// holding its dump and the files a rotation makes. Requests name files,
// never paths: a name with a slash or '..', or one that is (or lies in a
// folder that is) a symbolic link, is refused, and files are opened with
// O_NOFOLLOW, so nothing written or read through the API leaves the
// directory. The directory and its folders are made mode 0700: packets
// are private.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Problem } from './problem';

const DUMP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*\.pcapng$/;

export interface DumpFileInfo {
  name: string;
  bytes: number;
  /** Last change, ms since the epoch. */
  modifiedMs: number;
}

export class DumpDirectory {
  /** The directory, symbolic links resolved. */
  readonly root: string;

  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.root = fs.realpathSync(dir);
  }

  /** Refuses a dump name that is not a plain NAME.pcapng. */
  static checkName(name: string, field = 'dump'): void {
    if (name.includes('/') || name.includes('\\') || name.includes('..') || name.includes('\0')) {
      throw new Problem(400, `${field} '${name}' is a path: a dump is named, not placed`, 'give a file name such as web.pcapng: it is kept in the capture\'s folder of the service\'s dump directory', field);
    }
    if (!DUMP_NAME.test(name)) {
      throw new Problem(400, `${field} '${name}' is not a dump name`, "letters, digits, '.', '_' and '-', starting with a letter or digit, ending in .pcapng (the service writes pcapng)", field);
    }
  }

  /** The capture's folder, made when missing; refused when it is a symbolic link or not a folder. */
  folder(capture: string): string {
    const dir = path.join(this.root, capture);
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) throw new Problem(400, `the dump folder of '${capture}' is a symbolic link`, `remove ${dir} or give the capture another name: dumps stay inside ${this.root}`, 'name');
    if (st && !st.isDirectory()) throw new Problem(400, `the dump folder of '${capture}' is not a folder`, `remove ${dir} or give the capture another name`, 'name');
    if (!st) fs.mkdirSync(dir, { mode: 0o700 });
    return dir;
  }

  /** The path of a dump file of `capture`; refused when the name is bad or the file is a symbolic link. */
  file(capture: string, name: string, field = 'dump'): string {
    DumpDirectory.checkName(name, field);
    const file = path.join(this.folder(capture), name);
    if (fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw new Problem(400, `${field} '${name}' is a symbolic link`, `dumps stay inside ${this.root}: remove the link or give another name`, field);
    }
    return file;
  }

  /** The capture's dump files (regular files only), newest first. */
  files(capture: string): DumpFileInfo[] {
    const dir = path.join(this.root, capture);
    if (!fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return [];
    const out: DumpFileInfo[] = [];
    for (const name of fs.readdirSync(dir)) {
      const st = fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false });
      if (st?.isFile()) out.push({ name, bytes: st.size, modifiedMs: Math.round(st.mtimeMs) });
    }
    return out.sort((a, b) => b.modifiedMs - a.modifiedMs || a.name.localeCompare(b.name));
  }

  /** Opens a dump file for reading (O_NOFOLLOW); 404 when it is not one of the capture's files. */
  openForReading(capture: string, name: string): { fd: number; size: number } {
    if (!this.files(capture).some((f) => f.name === name)) throw new Problem(404, `capture '${capture}' has no dump file '${name}'`, `GET /captures/${capture} lists its files`, 'file');
    const fd = fs.openSync(path.join(this.root, capture, name), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    return { fd, size: fs.fstatSync(fd).size };
  }

  /** Removes the capture's folder and its files. */
  remove(capture: string): void {
    const dir = path.join(this.root, capture);
    if (fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) fs.rmSync(dir, { recursive: true, force: true });
  }
}
