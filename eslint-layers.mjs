// The project's layering, enforced by lint (DEVELOPERS.md, "Layers"): a
// module may import another only across the boundaries listed here. The
// rule resolves every relative import (and require of a relative path) to a
// file of the repository and asks layerViolation() whether that crossing is
// allowed; test/lint/layers.test.ts checks the rules themselves.
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = import.meta.dirname;

/** The repository-relative path of a module, without its extension: "src/bpf/map". */
function modulePath(file) {
  return path.relative(root, file).replace(/\\/g, '/').replace(/\.(ts|js|mjs)$/, '').replace(/\/index$/, '');
}

const under = (p, dir) => p === dir || p.startsWith(`${dir}/`);

/** The mode folder a module belongs to ("skb" for src/modes/skb/points and src/modes/skb), if any. */
function modeFolder(p) {
  const m = /^src\/modes\/([^/]+)/.exec(p);
  return m && fs.statSync(path.join(root, 'src', 'modes', m[1]), { throwIfNoEntry: false })?.isDirectory() ? m[1] : undefined;
}

/**
 * Why `from` may not import `to` (both repository-relative module paths),
 * or undefined when it may. `typeOnly`: the import brings types only (a
 * builder may name the shape of facts it is given, src/kernel's layouts).
 */
export function layerViolation(from, to, typeOnly = false) {
  if (under(from, 'test')) return undefined; // tests may reach any layer
  if (to === 'src/native' && !(under(from, 'src/bpf') || from === 'src/filter/libpcap' || under(from, 'src/net') || from === 'src/output/range-copies' || from === 'src/btf/kernel')) {
    return 'only the loader layer (src/bpf, src/filter/libpcap.ts, src/net), the copy of packet bytes (src/output/range-copies.ts) and the mapping of the kernel\'s BTF (src/btf/kernel.ts) touch the native addon';
  }
  if (under(from, 'src')) {
    for (const dir of ['cmd', 'test', 'lab', 'bench', 'examples']) if (under(to, dir)) return `nothing under src/ imports ${dir}/`;
  }
  if (under(from, 'probes') && !typeOnly && !(under(to, 'probes') || under(to, 'src/ebpf') || under(to, 'src/filter') || to === 'src/capture/record' || to === 'src/output/linktypes' || to === 'src/bpf/constants' || to === 'src/errors')) {
    return 'probes/ builds programs only: it imports the instruction model, the filter compiler, the record layout and constants';
  }
  if (under(from, 'src/capture') && (under(to, 'src/modes') || to === 'src')) return 'the capture library does not know the modes (src/modes registers them)';
  if (under(from, 'src/output') && (under(to, 'src/capture') || under(to, 'src/modes') || under(to, 'src/bpf') || under(to, 'probes'))) {
    return 'outputs write packets: they know nothing of captures, modes or the kernel';
  }
  if (under(from, 'cmd') && (under(to, 'src/bpf') || to === 'src/native')) return 'the command line creates no maps and loads no programs (use the library, src/index.ts)';
  const a = modeFolder(from);
  const b = modeFolder(to);
  if (a && b && a !== b) return `mode ${a} does not import mode ${b} (share code through src/modes/*.ts)`;
  return undefined;
}

function check(context, node, source, typeOnly = false) {
  if (typeof source !== 'string' || !source.startsWith('.')) return;
  const from = modulePath(context.filename);
  const to = modulePath(path.resolve(path.dirname(context.filename), source));
  const why = layerViolation(from, to, typeOnly);
  if (why) context.report({ node, message: `${from} may not import ${to}: ${why}` });
}

export const layersPlugin = {
  rules: {
    layers: {
      meta: { type: 'problem', docs: { description: 'imports stay within the layering of DEVELOPERS.md' }, schema: [] },
      create(context) {
        return {
          ImportDeclaration: (node) => check(context, node, node.source.value, node.importKind === 'type'),
          ExportNamedDeclaration: (node) => node.source && check(context, node, node.source.value, node.exportKind === 'type'),
          ExportAllDeclaration: (node) => check(context, node, node.source.value),
          ImportExpression: (node) => node.source.type === 'Literal' && check(context, node, node.source.value),
          CallExpression: (node) => {
            if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') check(context, node, node.arguments[0].value);
          },
          TSImportType: (node) => {
            const arg = node.argument?.literal ?? node.argument;
            if (arg?.type === 'Literal') check(context, node, arg.value, true);
          },
        };
      },
    },
  },
};
