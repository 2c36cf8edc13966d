// The XDP firewall example as a command (examples/xdp-firewall/README.md):
//
//   node dist/examples/xdp-firewall/main.js attach DEV --pin DIR [--drop P,..] [--bounce P,..] [--abort P,..] [--redirect P=IFACE,..] [--generic|--native]
//   node dist/examples/xdp-firewall/main.js stats --pin DIR
//   node dist/examples/xdp-firewall/main.js detach --pin DIR
//
// attach loads the firewall, attaches it to DEV (of the namespace it runs
// in) and pins DIR/xdpcap_hook, DIR/counters and DIR/link: the program
// stays attached after the command exits, until `detach` removes the pins.
// Then: netcap xdp --hook DIR/xdpcap_hook.
import { parseArgs } from 'node:util';
import { UserError } from '../../src/errors';
import { ensureBpffs } from '../../src/bpf/pinned';
import { resolveInterface } from '../../src/kernel/interfaces';
import { actionName } from '../../src/modes/xdp/actions';
import { Firewall, pinnedCounts, unpin, type FirewallRules } from './firewall';

const USAGE = 'usage: main.js attach DEV --pin DIR [--drop P,..] [--bounce P,..] [--abort P,..] [--redirect P=IFACE,..] [--generic|--native]\n       main.js stats --pin DIR\n       main.js detach --pin DIR';

function ports(text: string | undefined): number[] {
  if (!text) return [];
  return text.split(',').map((w) => {
    const n = Number(w);
    if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new UserError(`"${w}" is not a port number`, USAGE);
    return n;
  });
}

/** By netlink (ip), not /sys/class/net: under `nsenter --net` sysfs still shows the namespace it was mounted in. */
function ifindexOf(name: string): number {
  return resolveInterface(name).ifindex;
}

function run(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      pin: { type: 'string' },
      drop: { type: 'string' },
      bounce: { type: 'string' },
      abort: { type: 'string' },
      redirect: { type: 'string' },
      generic: { type: 'boolean' },
      native: { type: 'boolean' },
    },
  });
  const [command, dev] = positionals;
  const dir = values.pin;
  if (!dir) throw new UserError('--pin DIR is missing', USAGE);
  switch (command) {
    case 'attach': {
      if (!dev) throw new UserError('attach needs the interface', USAGE);
      const rules: FirewallRules = {
        drop: ports(values.drop),
        bounce: ports(values.bounce),
        abort: ports(values.abort),
        redirect: (values.redirect ? values.redirect.split(',') : []).map((w) => {
          const [port, iface] = w.split('=');
          if (!iface) throw new UserError(`--redirect ${w}: expected PORT=IFACE`, USAGE);
          return { port: ports(port)[0], ifindex: ifindexOf(iface) };
        }),
      };
      ensureBpffs();
      const fw = Firewall.load(rules);
      try {
        fw.attachAndPin({ ifindex: ifindexOf(dev), mode: values.generic ? 'generic' : values.native ? 'native' : 'auto' }, dir);
      } finally {
        fw.close();
      }
      process.stdout.write(`xdp_firewall attached to ${dev}; hook ${dir}/xdpcap_hook (netcap xdp --hook ${dir}/xdpcap_hook)\n`);
      return 0;
    }
    case 'stats':
      process.stdout.write(`${pinnedCounts(dir).map((n, action) => `${actionName(action)}: ${n}`).join('  ')}\n`);
      return 0;
    case 'detach':
      unpin(dir);
      return 0;
    default:
      throw new UserError(`unknown command ${command ?? '(none)'}`, USAGE);
  }
}

try {
  process.exitCode = run(process.argv.slice(2));
} catch (e) {
  const err = e as UserError;
  process.stderr.write(`xdp-firewall: ${err.message}\n${err.hint ? `  ${err.hint}\n` : ''}`);
  process.exitCode = err instanceof UserError ? err.exitCode : 1;
}
