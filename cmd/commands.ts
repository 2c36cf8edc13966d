// Every subcommand, in the order `netcap --help` lists them.
import type { Command } from './command';
import { mbufCommand } from './mbuf';
import { rawCommand } from './raw';
import { compileCommand } from './compile';
import { readCommand } from './read';
import { skbCommand } from './skb';
import { replayCommand } from './replay';
import { xdpCommand } from './xdp';
import { ifaceCommand } from './iface';
import { serveCommand } from './serve';
import { remoteCommand } from './remote';

export const commands: Command[] = [mbufCommand, rawCommand, skbCommand, ifaceCommand, xdpCommand, compileCommand, readCommand, replayCommand, serveCommand, remoteCommand];
