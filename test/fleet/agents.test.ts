// The fleet's agents and tokens as the user gives them: names from URLs
// (host, host:port where hosts repeat), NAME=URL, agents files with
// per-agent fields, NAME:FIELD=VALUE on the command line; tokens from a
// file (one, or per agent) and the environment, in that order, and short
// ones refused. Bad input is a UserError naming what was wrong.
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../src/errors';
import { parseAgentList, readAgentsFile, splitAgentFields } from '../../src/fleet/agents';
import { readTokenFile, tokenFor, tokenVariable } from '../../src/fleet/tokens';
import { clockShift, estimateClock } from '../../src/fleet/clock';
import { tempDir } from '../capture/netcap-child';

const dir = tempDir('fleet-agents');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

function refuses(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof UserError && message.test(e.message));
}

const T = (c: string) => c.repeat(20);

describe('fleet agents', () => {
  it('names agents by host, by host:port where hosts repeat, or as given', () => {
    assert.deepEqual(parseAgentList('https://node-a:9000, https://node-b:9000'), [
      { name: 'node-a', url: 'https://node-a:9000', fields: [] },
      { name: 'node-b', url: 'https://node-b:9000', fields: [] },
    ]);
    assert.deepEqual(parseAgentList('http://127.0.0.1:9001,http://127.0.0.1:9002').map((a) => a.name), ['127.0.0.1:9001', '127.0.0.1:9002']);
    assert.deepEqual(parseAgentList('lb=https://192.0.2.1:9000,https://gw:443').map((a) => [a.name, a.url]), [['lb', 'https://192.0.2.1:9000'], ['gw', 'https://gw']]);
    refuses(() => parseAgentList('a=http://x:1,a=http://y:1'), /two agents are named a/);
    refuses(() => parseAgentList('ftp://x'), /not an http or https URL/);
    refuses(() => parseAgentList('http://x:9000/api'), /has a path/);
    refuses(() => parseAgentList(' , '), /--agents is empty/);
    refuses(() => parseAgentList('-x=http://h:1'), /'-x' is not a name/);
  });

  it('reads an agents file: names, URLs, the agent\'s own fields (quoted as in a shell), comments', () => {
    const f = file('agents', '# the fleet\nnode-a https://10.1.0.1:9000\n\nhttps://gw:9000 iface=bond0 filter="tcp port 80"   # the gateway\n');
    assert.deepEqual(readAgentsFile(f), [
      { name: 'node-a', url: 'https://10.1.0.1:9000', fields: [] },
      { name: 'gw', url: 'https://gw:9000', fields: ['iface=bond0', 'filter=tcp port 80'] },
    ]);
    refuses(() => readAgentsFile(file('bad1', 'node-a\n')), /line 1: no agent URL/);
    refuses(() => readAgentsFile(file('bad2', 'a https://h:1 iface\n')), /line 1: 'iface' is not FIELD=VALUE/);
    refuses(() => readAgentsFile(file('bad3', 'a https://h:1 filter="x\n')), /line 1: /);
    refuses(() => readAgentsFile(file('empty', '# nobody\n')), /names no agent/);
    refuses(() => readAgentsFile(path.join(dir, 'missing')), /cannot read the agents file .*: no such file/);
  });

  it('splits NAME:FIELD=VALUE from the fleet\'s fields, host:port names included', () => {
    const agents = parseAgentList('http://127.0.0.1:1,http://127.0.0.1:2,b=http://h:3');
    const { common, perAgent } = splitAgentFields(['filter=udp', 'b:iface=eth1', '127.0.0.1:2:iface=v2'], agents);
    assert.deepEqual(common, ['filter=udp']);
    assert.deepEqual([...perAgent], [['b', ['iface=eth1']], ['127.0.0.1:2', ['iface=v2']]]);
    refuses(() => splitAgentFields(['c:iface=x'], agents), /no agent is named c/);
  });
});

describe('fleet tokens', () => {
  it('takes a file\'s named token first, then the agent\'s variable, the file\'s default, NETCAP_TOKEN', () => {
    const byName = readTokenFile(file('tokens', `# tokens\nnode-a ${T('a')}\n* ${T('d')}\n`));
    const env = { NETCAP_TOKEN: T('e'), [tokenVariable('node-b.x')]: T('b') };
    assert.equal(tokenVariable('node-b.x'), 'NETCAP_TOKEN_NODE_B_X');
    assert.equal(tokenFor('node-a', { byName, env }), T('a'));
    assert.equal(tokenFor('node-b.x', { byName, env }), T('b'));
    assert.equal(tokenFor('node-c', { byName, env }), T('d'));
    assert.equal(tokenFor('node-c', { byName: new Map(), env }), T('e'));
    assert.equal(tokenFor('node-c', { byName: new Map(), env: {} }), undefined);
    assert.deepEqual([...readTokenFile(file('one', `${T('o')}\n`))], [['*', T('o')]]);
  });

  it('refuses short tokens and malformed files', () => {
    refuses(() => readTokenFile(file('short', 'abc\n')), /is 3 characters long, fewer than 16/);
    refuses(() => readTokenFile(file('bad', `a ${T('a')}\nb\n`)), /line 2 is not NAME TOKEN/);
    refuses(() => tokenFor('a', { byName: new Map(), env: { NETCAP_TOKEN_A: 'short' } }), /NETCAP_TOKEN_A is 5 characters long/);
  });
});

describe('fleet clocks', () => {
  it('keeps the shortest round trip, and shifts only beyond its error', async () => {
    // An agent 5 ms ahead whose answers take 2, 0 and 1 ms to make.
    const delays = [2, 0, 1];
    let i = 0;
    const info = async () => {
      const d = delays[i++ % delays.length];
      if (d) await new Promise((r) => setTimeout(r, d));
      return { clock: { realtimeNs: String(BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n + 5_000_000n), monotonicNs: '0' } };
    };
    const e = await estimateClock(info, 3);
    assert.equal(e.samples, 3);
    assert.ok(e.errorNs < 1_000_000n, `the quick round trip kept: ±${e.errorNs} ns`);
    assert.ok(e.offsetNs > 5_000_000n - e.errorNs - 100_000n && e.offsetNs < 5_000_000n + e.errorNs + 100_000n, `offset ${e.offsetNs}`);
    assert.equal(clockShift(e), -e.offsetNs);
    assert.equal(clockShift({ offsetNs: 300n, errorNs: 400n, samples: 1 }), 0n);
    assert.equal(clockShift({ offsetNs: -500n, errorNs: 400n, samples: 1 }), 500n);
  });
});
