// The web page in a real browser: Debian's chromium, headless, driven by
// playwright-core (no browser download). Load the page, create a capture
// with the form, watch its counters move while frames are injected, change
// the filter (a refused one shows libpcap's message next to the field),
// look at the last packets decoded, download the dump and read it with
// tcpdump, stop and delete it. The screenshot stays in the test's
// temporary directory (its path is printed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { World, type Namespace } from '../../lab/netns';
import { inject } from '../../lab/inject';
import { numberedFrames, numbersByTcpdump, RECEIVER_MAC, SENDER_MAC, sleep } from '../capture/numbered-frames';
import { api, startServe, tempDir, type Served } from './serve-process';

const CHROMIUM = '/usr/bin/chromium';
const world = new World('srvweb');
let ns: Namespace;
let served: Served;
let tmp: string;
let browser: BrowserContext | undefined;

before(async () => {
  ns = world.addNamespace();
  ns.addVeth('v0', 'v1', { local: { mac: SENDER_MAC }, peer: { mac: RECEIVER_MAC, address: '192.0.2.2/24' } });
  tmp = tempDir('web');
  served = await startServe({ world });
});

after(async () => {
  await browser?.close();
  await served?.stop();
  if (served) fs.rmSync(served.stateDir, { recursive: true, force: true });
  // Everything but the screenshot goes.
  if (tmp) for (const f of fs.readdirSync(tmp)) if (!f.endsWith('.png')) fs.rmSync(path.join(tmp, f), { recursive: true, force: true });
  await world.destroy();
});

/** The number a cell of the capture's row shows. */
async function cell(page: Page, name: string, key: string): Promise<number> {
  return Number(await page.getByTestId(`capture-${name}`).getByTestId(key).textContent());
}

async function until(what: string, ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

void test('the page in headless chromium: create, live counters, a refused and an accepted filter, decoded packets, download, stop, delete', { skip: fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)` }, async () => {
  browser = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(served.url);
  await until('the page to know the kinds', async () => (await page.getByTestId('create-kind').locator('option').count()) > 0);
  assert.match((await page.getByTestId('service').textContent()) ?? '', /^netcap \S+ on /);
  await until('the events to be live', async () => (await page.getByTestId('live').textContent()) === 'live');

  await page.getByTestId('create-name').fill('web');
  await page.getByTestId('create-kind').selectOption('skb');
  await page.getByTestId('create-points').fill('tracepoint:net:netif_receive_skb');
  await page.getByTestId('create-iface').fill('v1');
  await page.getByTestId('create-netns').fill(ns.name);
  await page.getByTestId('create-filter').fill('udp');
  await page.getByTestId('create-submit').click();
  const row = page.getByTestId('capture-web');
  await row.waitFor();
  assert.equal(await page.getByTestId('create-problem').textContent(), '');
  assert.equal(await row.getByTestId('status').textContent(), 'running');

  // Counters move while frames come (to port 5000 first, then to 6000).
  const sending = inject(ns, 'v0', [...numberedFrames(450, 5000, 120), ...numberedFrames(150, 6000, 120, 450)], { rate: 150 });
  await until('the first frames on the page', async () => (await cell(page, 'web', 'captured')) > 0);
  const first = await cell(page, 'web', 'captured');
  await until('the counters to move', async () => (await cell(page, 'web', 'captured')) > first + 50);

  // A filter libpcap refuses: its message next to the field, and the old filter goes on.
  await row.getByTestId('filter').fill('udp port');
  await row.getByTestId('filter-apply').click();
  await until('the refusal on the page', async () => /syntax error/.test((await row.getByTestId('filter-problem').textContent()) ?? ''));
  assert.equal((await api<{ definition: { filter: string } }>(served.url, 'GET', '/captures/web')).body.definition.filter, 'udp');
  await row.getByTestId('filter').fill('udp port 6000');
  await row.getByTestId('filter-apply').click();
  await until('the accepted filter', async () => (await api<{ definition: { filter: string } }>(served.url, 'GET', '/captures/web')).body.definition.filter === 'udp port 6000');
  await until('the refusal to be cleared', async () => (await row.getByTestId('filter-problem').textContent()) === '');

  // The last packets, decoded.
  await page.getByRole('link', { name: 'web' }).click();
  await until('decoded packets', async () => /192\.0\.2\.2\.\d+: UDP/.test((await page.getByTestId('packets').textContent()) ?? ''));
  assert.equal(await sending, 600);
  await until('every frame seen', async () => (await cell(page, 'web', 'seen')) === 600);
  await sleep(1200);
  const captured = await cell(page, 'web', 'captured');

  const shot = path.join(tmp, 'netcap-serve-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  // The dump, downloaded by the page, read by tcpdump.
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByTestId('download').click()]);
  const file = path.join(tmp, 'downloaded.pcapng');
  await download.saveAs(file);
  const numbers = numbersByTcpdump(file);
  assert.equal(numbers.length, captured, 'the download holds every packet the page counted');
  const k = numbers.findIndex((n) => n >= 450);
  assert.ok(k > 0 && k < 450, `port 5000 frames until the change (${k}), then none`);
  assert.deepEqual(numbers, [...numbers.slice(0, k).map((_, i) => i), ...Array.from({ length: numbers.length - k }, (_, i) => 600 - (numbers.length - k) + i)], 'frames 0..k-1 under the old filter, the last ones under the new, none lost');

  await row.getByTestId('stop').click();
  await until('stopped', async () => (await row.getByTestId('status').textContent()) === 'stopped');
  await row.getByTestId('delete').click();
  await until('the row to go', async () => (await page.getByTestId('capture-web').count()) === 0);
  assert.equal((await api(served.url, 'GET', '/captures/web')).status, 404);
  assert.deepEqual(pageErrors, [], 'no script error on the page');
  assert.ok(fs.statSync(shot).size > 10_000, 'the screenshot is kept');
});
