// Loading a mode's programs: the ones attached for the whole capture, and a
// Generation of judging programs (mode.ts) bound to their slots. Every
// program of a set loads before any is used; on a failure the ones loaded
// so far are closed and the error goes on.
import { loadProgram, type Program, type ProgramSpec } from '../bpf/program';
import type { Link } from '../bpf/link/link';
import type { BuiltProgram, Generation, JudgeSettings } from './mode';
import type { ProgramSlots } from './slots';

export interface ProgramToLoad {
  /** The point it serves. */
  point: number;
  /** What it does, for listings ("dispatcher", "uprobe", "worker"...). */
  role: string;
  spec: ProgramSpec;
  /** Where a judging program goes: its slot. */
  slot?: { slots: ProgramSlots; index: number };
}

export interface LoadedProgram extends BuiltProgram {
  program: Program;
}

/** A generation as loaded here: its programs with their kernel objects. */
export interface LoadedGeneration extends Generation {
  readonly programs: readonly LoadedProgram[];
}

/** Loads every program (all or nothing). */
export function loadPrograms(list: readonly ProgramToLoad[]): LoadedProgram[] {
  const loaded: LoadedProgram[] = [];
  try {
    for (const p of list) loaded.push({ point: p.point, role: p.role, name: p.spec.name, insns: p.spec.insns, program: loadProgram(p.spec) });
  } catch (e) {
    for (const l of loaded.reverse()) l.program.close();
    throw e;
  }
  return loaded;
}

/** A generation of judging programs, each installed into its slot by install(). */
export function loadGeneration(settings: JudgeSettings, list: readonly ProgramToLoad[]): LoadedGeneration {
  const loaded = loadPrograms(list);
  let closed = false;
  return {
    settings,
    programs: loaded,
    install: () => {
      list.forEach((p, i) => {
        if (p.slot) p.slot.slots.install(p.slot.index, loaded[i].program);
      });
    },
    close: () => {
      if (closed) return;
      closed = true;
      for (const l of [...loaded].reverse()) l.program.close();
    },
  };
}

/** Attaches each item with `attachOne` (all or none: on a failure the links made so far are closed and the error goes on). */
export function attachEach<T>(items: readonly T[], attachOne: (item: T) => Link): Link[] {
  const links: Link[] = [];
  try {
    for (const item of items) links.push(attachOne(item));
  } catch (e) {
    for (const l of links.reverse()) l.close();
    throw e;
  }
  return links;
}
