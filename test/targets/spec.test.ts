// The -f point list: every accepted form, and refusals that name the bad part
// and show the accepted forms.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parsePoints, parsePoint } from '../../src/targets/spec';
import { UserError } from '../../src/errors';

void test('mbuf mode: one mbuf, burst with count, burst at return, explicit objects', () => {
  assert.deepEqual(parsePoints('l2fwd_simple_forward@1', 'mbuf'), [
    { kind: 'user-function', text: 'l2fwd_simple_forward@1', function: 'l2fwd_simple_forward', capture: { shape: 'one', arg: 1 } },
  ]);
  const [a, b, c, d] = parsePoints('vec_func@1@2, rte_eth_rx_burst@3@ret,librte_ethdev:rte_eth_tx_burst@3@4,/opt/app/lib x.so:f@6', 'mbuf');
  assert.deepEqual(a, { kind: 'user-function', text: 'vec_func@1@2', function: 'vec_func', capture: { shape: 'array', arrayArg: 1, countArg: 2 } });
  assert.deepEqual(b.kind === 'user-function' && b.capture, { shape: 'array-at-return', arrayArg: 3 });
  assert.deepEqual(c.kind === 'user-function' && [c.object, c.function], ['librte_ethdev', 'rte_eth_tx_burst']);
  assert.deepEqual(d.kind === 'user-function' && [d.object, d.function, d.capture], ['/opt/app/lib x.so', 'f', { shape: 'one', arg: 6 }]);
  // gcc's clones keep their dotted names.
  assert.equal(parsePoint('process.part.0@1', 'mbuf').kind, 'user-function');
});

void test('raw mode: data pointer and length arguments', () => {
  assert.deepEqual(parsePoint('xsk_rx@2@3', 'raw'), { kind: 'user-function', text: 'xsk_rx@2@3', function: 'xsk_rx', capture: { shape: 'raw', dataArg: 2, lengthArg: 3 } });
});

void test('skb mode: tracepoints, raw and BTF tracepoints, kernel functions', () => {
  assert.deepEqual(parsePoints('tracepoint:skb:kfree_skb,tp:net:netif_receive_skb', 'skb'), [
    { kind: 'tracepoint', text: 'tracepoint:skb:kfree_skb', category: 'skb', name: 'kfree_skb' },
    { kind: 'tracepoint', text: 'tp:net:netif_receive_skb', category: 'net', name: 'netif_receive_skb' },
  ]);
  assert.deepEqual(parsePoint('raw_tp:kfree_skb', 'skb'), { kind: 'raw_tp', text: 'raw_tp:kfree_skb', name: 'kfree_skb', skbArg: undefined });
  assert.deepEqual(parsePoint('tp_btf:kfree_skb@1', 'skb'), { kind: 'tp_btf', text: 'tp_btf:kfree_skb@1', name: 'kfree_skb', skbArg: 1 });
  assert.deepEqual(parsePoint('ip_rcv@1', 'skb'), { kind: 'kernel-function', text: 'ip_rcv@1', function: 'ip_rcv', skbArg: 1 });
  assert.deepEqual(parsePoint('kprobe:ip_rcv@1', 'skb'), { kind: 'kernel-function', text: 'kprobe:ip_rcv@1', function: 'ip_rcv', skbArg: 1 });
});

/** Asserts a UserError whose message quotes `part` and whose hint lists the accepted forms. */
function refused(text: string, mode: 'mbuf' | 'raw' | 'skb', part: RegExp): void {
  assert.throws(() => parsePoints(text, mode), (e: unknown) => {
    assert.ok(e instanceof UserError, `UserError for ${text}`);
    assert.match(e.message, part);
    assert.match(e.hint ?? '', /accepted forms/);
    return true;
  });
}

void test('malformed points are refused with the bad part named', () => {
  refused('func', 'mbuf', /no argument given.*func@1/);
  refused('func@0', 'mbuf', /argument 0 is out of range/);
  refused('func@7', 'mbuf', /argument 7 is out of range/);
  refused('func@x', 'mbuf', /'x' is not an argument number/);
  refused('func@1@1', 'mbuf', /different arguments/);
  refused('func@1@2@ret', 'mbuf', /func@1@ret/);
  refused('func@1@2@3', 'mbuf', /too many/);
  refused('fu-nc@1', 'mbuf', /'fu-nc' is not a valid function name/);
  refused('a@1,,b@1', 'mbuf', /empty point/);
  refused('', 'mbuf', /empty point/);
  refused(':f@1', 'mbuf', /nothing before ":"/);
  refused('tracepoint:skb:kfree_skb', 'mbuf', /kernel points/);
  refused('func@1', 'raw', /raw mode needs func@N@M/);
  refused('func@1@ret', 'raw', /raw mode needs/);
  refused('tracepoint:skb', 'skb', /tracepoint:CATEGORY:NAME/);
  refused('ip_rcv', 'skb', /exactly one @N/);
  refused('lib:ip_rcv@1', 'skb', /'lib:' is not a kernel point type/);
  refused('raw_tp:kfree_skb@1@2', 'skb', /at most one @N/);
});
