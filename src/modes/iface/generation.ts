// The judging programs of netcap iface: one generation per set of settings
// (filter, snap length, direction), a program per capture point in its
// interface's slot: the capture program (probes/tc.ts) where the direction
// selects the point, else the idle one that only counts. Unlike the other
// modes' generations this one grows: under `-i any` an interface that
// appears while capturing gets programs in every generation still loaded
// (the one judging packets, and one being loaded for a change), and goes
// straight into the slots of the one judging packets; an interface that
// goes takes its programs with it.
import { loadPrograms, type LoadedProgram } from '../../capture/generation';
import type { Generation, GenerationMaps, JudgeSettings } from '../../capture/mode';
import { selectsPoint } from '../../capture/direction';
import { ProgType } from '../../bpf/constants';
import type { TcDirection } from '../../bpf/link/tc';
import type { ProgramSpec } from '../../bpf/program';
import type { InterfaceInfo } from '../../kernel/interfaces';
import { LINKTYPE_ETHERNET } from '../../output/linktypes';
import { buildTcIdleProgram, buildTcProgram, tcProgramName } from '../../../probes/tc';
import type { IfaceFilters } from './filter';
import type { InterfaceHooks } from './hooks';
import { pointDirection } from './points';

/** A capture point as a generation needs it. */
export interface JudgedPoint {
  point: number;
  direction: TcDirection;
  iface: InterfaceInfo;
  hooks: InterfaceHooks;
}

interface Placed {
  at: JudgedPoint;
  loaded: LoadedProgram;
}

/** The program that judges `at` under `settings`, and what it does. */
function judgeProgram(at: JudgedPoint, settings: JudgeSettings, filters: IfaceFilters, maps: GenerationMaps): { role: string; spec: ProgramSpec } {
  const name = (role: 'ncc' | 'nci') => tcProgramName(at.iface.name, at.direction, role);
  if (!selectsPoint(settings.direction, pointDirection(at.direction))) {
    return { role: 'idle', spec: { type: ProgType.SCHED_CLS, name: name('nci'), insns: buildTcIdleProgram({ point: at.point, direction: at.direction, maps: { counters: maps.counters.fd } }) } };
  }
  const insns = buildTcProgram({
    point: at.point,
    direction: at.direction,
    filter: filters.forInterface(at.iface)?.insns,
    snaplen: settings.snaplen,
    maps: { ring: maps.ring.fd, counters: maps.counters.fd, scratch: maps.scratch.fd },
    wakeupAt: maps.wakeupAt,
    netnsInode: at.iface.netns.inode,
    linktype: LINKTYPE_ETHERNET,
  });
  return { role: 'capture', spec: { type: ProgType.SCHED_CLS, name: name('ncc'), insns } };
}

class IfaceGeneration implements Generation {
  private placed: Placed[] = [];
  private closed = false;

  constructor(
    readonly settings: JudgeSettings,
    private readonly filters: IfaceFilters,
    private readonly maps: GenerationMaps,
    private readonly owner: IfaceGenerations,
  ) {}

  get programs(): LoadedProgram[] {
    return this.placed.map((p) => p.loaded);
  }

  /** Loads the programs of `points` (all or nothing); none is installed. */
  load(points: readonly JudgedPoint[]): Placed[] {
    const list = points.map((at) => ({ at, ...judgeProgram(at, this.settings, this.filters, this.maps) }));
    const loaded = loadPrograms(list.map((p) => ({ point: p.at.point, role: p.role, spec: p.spec })));
    return list.map((p, i) => ({ at: p.at, loaded: loaded[i] }));
  }

  /** Takes programs load() made into this generation. */
  keep(placed: Placed[]): void {
    this.placed.push(...placed);
  }

  install(): void {
    for (const p of this.placed) p.at.hooks.slots.install(p.at.hooks.slotOf(p.at.point), p.loaded.program);
    this.owner.current = this;
  }

  /** Closes the programs of the points of `hooks` (their interface went). */
  drop(hooks: InterfaceHooks): void {
    const [gone, kept] = [this.placed.filter((p) => p.at.hooks === hooks), this.placed.filter((p) => p.at.hooks !== hooks)];
    this.placed = kept;
    for (const p of gone) p.loaded.program.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.forget(this);
    for (const p of this.placed.splice(0).reverse()) p.loaded.program.close();
  }
}

/** Every generation loaded and not yet closed, and which one judges packets now. */
export class IfaceGenerations {
  private readonly live = new Set<IfaceGeneration>();
  /** The generation whose programs are in the slots (the last installed). */
  current: IfaceGeneration | undefined;

  /** A generation for `settings` with a program per point of `points`; nothing installed. */
  load(settings: JudgeSettings, filters: IfaceFilters, maps: GenerationMaps, points: readonly JudgedPoint[]): Generation {
    const gen = new IfaceGeneration(settings, filters, maps, this);
    gen.keep(gen.load(points));
    this.live.add(gen);
    return gen;
  }

  /**
   * New points (an interface that appeared): programs in every live
   * generation, all loaded before any is kept (all or nothing), then the
   * current generation's put into their slots.
   */
  add(points: readonly JudgedPoint[]): void {
    const made: { gen: IfaceGeneration; placed: Placed[] }[] = [];
    try {
      for (const gen of this.live) made.push({ gen, placed: gen.load(points) });
    } catch (e) {
      for (const m of made) for (const p of m.placed) p.loaded.program.close();
      throw e;
    }
    for (const m of made) m.gen.keep(m.placed);
    const now = made.find((m) => m.gen === this.current);
    for (const p of now?.placed ?? []) p.at.hooks.slots.install(p.at.hooks.slotOf(p.at.point), p.loaded.program);
  }

  /** An interface went: every generation closes its programs. */
  drop(hooks: InterfaceHooks): void {
    for (const gen of this.live) gen.drop(hooks);
  }

  forget(gen: IfaceGeneration): void {
    this.live.delete(gen);
    if (this.current === gen) this.current = undefined;
  }
}
