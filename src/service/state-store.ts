// Capture definitions kept in the state directory, one JSON file per
// capture (captures/<name>.json), so a service that restarts, after a
// SIGKILL or a reboot too, brings them back. Each file is written whole and
// renamed into place, then synced with its directory: a crash leaves the
// old definition or the new one, never half of one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CaptureDefinition } from './definition';
import type { DesiredState } from './service-capture';

const FORMAT_VERSION = 1;

export interface SavedCapture {
  definition: CaptureDefinition;
  desired: DesiredState;
  /** When it was first created (the list keeps that order across restarts). */
  createdAtMs: number;
}

export class StateStore {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'captures');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  save(saved: SavedCapture): void {
    const file = this.fileOf(saved.definition.name);
    const tmp = `${file}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify({ version: FORMAT_VERSION, ...saved }, null, 2) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    this.syncDirectory();
  }

  remove(name: string): void {
    fs.rmSync(this.fileOf(name), { force: true });
    this.syncDirectory();
  }

  /** Every saved capture, oldest first, and a warning for each file that cannot be read (it is left where it is). */
  load(): { saved: SavedCapture[]; warnings: string[] } {
    const saved: SavedCapture[] = [];
    const warnings: string[] = [];
    for (const name of fs.readdirSync(this.dir).sort()) {
      if (!name.endsWith('.json')) continue;
      const file = path.join(this.dir, name);
      try {
        const data = JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: number } & SavedCapture;
        if (data.version !== FORMAT_VERSION) throw new Error(`format version ${data.version}, this netcap reads ${FORMAT_VERSION}`);
        if (typeof data.definition?.name !== 'string' || `${data.definition.name}.json` !== name) throw new Error('the definition does not name this file');
        saved.push({ definition: data.definition, desired: data.desired === 'stopped' ? 'stopped' : 'running', createdAtMs: Number(data.createdAtMs) || 0 });
      } catch (e) {
        warnings.push(`${file}: ${(e as Error).message}; not restored`);
      }
    }
    return { saved: saved.sort((a, b) => a.createdAtMs - b.createdAtMs), warnings };
  }

  private fileOf(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }

  private syncDirectory(): void {
    const fd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}
