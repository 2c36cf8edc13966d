// netcap serve's page: the captures with their counters, live (server-sent
// events, read with fetch so the token can go along), a form to create one
// (its fields and their types from /info and /openapi.json), and per
// capture: change the filter (libpcap's message shown next to it when it
// refuses), the snap length and the direction, stop, delete, download the
// dump, and the last packets decoded. Plain JavaScript, no build step.
/* global document, window, fetch, sessionStorage, AbortController, TextDecoder, URL, setTimeout, clearTimeout */
'use strict';

const state = { kinds: [], fieldTypes: {}, rows: new Map(), selected: undefined, events: undefined, packetLines: [] };
const $ = (id) => document.getElementById(id);

function headers(json) {
  const h = {};
  const token = $('token').value.trim();
  if (token) h.authorization = `Bearer ${token}`;
  if (json) h['content-type'] = 'application/json';
  return h;
}

/** One API request: { ok, status, body } (body parsed when JSON). */
async function request(method, path, body) {
  const res = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get('content-type') || '';
  const text = await res.text();
  return { ok: res.ok, status: res.status, body: text && /json/.test(type) ? JSON.parse(text) : text };
}

/** Shows a problem (detail, then the hint in grey) in `el`, or clears it. */
function showProblem(el, problem) {
  el.textContent = '';
  if (!problem) return;
  el.append(problem.detail || `HTTP ${problem.status}`);
  if (problem.hint) {
    const hint = document.createElement('span');
    hint.className = 'hint';
    hint.textContent = problem.hint;
    el.append(hint);
  }
}

function element(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
}

async function loadInfo() {
  const info = await request('GET', '/info');
  if (!info.ok) {
    $('live').textContent = info.status === 401 ? 'give the token' : `HTTP ${info.status}`;
    return false;
  }
  $('service').textContent = `netcap ${info.body.netcap} on ${info.body.host}`;
  state.kinds = info.body.kinds;
  const doc = await request('GET', '/openapi.json');
  const props = doc.ok ? doc.body.paths['/captures'].post.requestBody.content['application/json'].schema.properties : {};
  for (const [name, schema] of Object.entries(props)) state.fieldTypes[name] = schema;
  const kind = document.querySelector('#create [name=kind]');
  kind.textContent = '';
  for (const k of state.kinds) kind.append(element('option', { value: k.name, textContent: k.name, title: k.summary }));
  kind.onchange = () => kindFields(kind.value);
  kindFields(kind.value);
  return true;
}

/** The create form's inputs for a kind's own fields. */
function kindFields(kindName) {
  const box = $('kind-fields');
  box.textContent = '';
  const kind = state.kinds.find((k) => k.name === kindName);
  for (const field of kind ? kind.fields : []) {
    const schema = state.fieldTypes[field] || {};
    let input;
    if (schema.enum) {
      input = element('select', { name: field });
      input.append(element('option', { value: '', textContent: '' }));
      for (const v of schema.enum) input.append(element('option', { value: v, textContent: v }));
    } else if (schema.type === 'boolean') input = element('input', { name: field, type: 'checkbox' });
    else input = element('input', { name: field, type: schema.type === 'integer' ? 'number' : 'text', size: field === 'points' ? 34 : 12 });
    input.title = schema.description || '';
    input.dataset.testid = `create-${field}`;
    box.append(element('label', {}, `${field} `, input));
  }
}

async function create(event) {
  event.preventDefault();
  const form = event.target;
  const body = {};
  for (const input of form.querySelectorAll('input, select')) {
    if (!input.name) continue;
    if (input.type === 'checkbox') {
      if (input.checked) body[input.name] = true;
    } else if (input.value !== '') body[input.name] = input.type === 'number' ? Number(input.value) : input.value;
  }
  const r = await request('POST', '/captures', body);
  showProblem($('create-problem'), r.ok ? undefined : r.body);
  if (r.ok) {
    form.querySelector('[name=name]').value = '';
    select(r.body.name);
  }
}

/** Changes one field of a capture; its problem goes next to the field. */
async function change(name, field, value, problemEl) {
  const r = await request('PATCH', `/captures/${encodeURIComponent(name)}`, { [field]: value });
  showProblem(problemEl, r.ok ? undefined : r.body);
  return r.ok;
}

async function download(name) {
  const res = await fetch(`/captures/${encodeURIComponent(name)}/dump`, { headers: headers(false) });
  if (!res.ok) return;
  const blob = await res.blob();
  const disposition = res.headers.get('content-disposition') || '';
  const file = (/filename="([^"]+)"/.exec(disposition) || [])[1] || `${name}.pcapng`;
  const a = element('a', { href: URL.createObjectURL(blob), download: file });
  document.body.append(a);
  a.click();
  a.remove();
}

function takesDirection(kind) {
  const k = state.kinds.find((x) => x.name === kind);
  return Boolean(k && k.fields.includes('direction'));
}

/** The row of a capture, made once: its inputs keep what the user types while the counters change around them. */
function rowFor(view) {
  let row = state.rows.get(view.name);
  if (row) return row;
  const tr = element('tr', {});
  tr.dataset.testid = `capture-${view.name}`;
  const cell = (cls) => element('td', { className: cls || '' });
  const cells = { name: cell(), kind: cell(), status: cell(), filter: cell(), snaplen: cell(), direction: cell(), seen: cell('n'), matched: cell('n'), lost: cell('n'), captured: cell('n'), bytes: cell('n'), streams: cell('n'), actions: cell() };
  const nameLink = element('a', { href: '#', textContent: view.name, onclick: (e) => { e.preventDefault(); select(view.name); } });
  cells.name.append(nameLink);

  const filter = element('input', { value: view.definition.filter, size: 24, placeholder: 'every packet' });
  filter.dataset.testid = 'filter';
  const filterProblem = element('div', { className: 'problem' });
  filterProblem.dataset.testid = 'filter-problem';
  const applyFilter = element('button', { textContent: 'Apply', onclick: () => change(view.name, 'filter', filter.value, filterProblem) });
  applyFilter.dataset.testid = 'filter-apply';
  filter.onkeydown = (e) => { if (e.key === 'Enter') applyFilter.click(); };
  cells.filter.append(filter, ' ', applyFilter, filterProblem);

  const snaplen = element('input', { type: 'number', min: 1, max: 262144, value: view.definition.snaplen, style: 'width: 6em' });
  snaplen.dataset.testid = 'snaplen';
  const snapProblem = element('div', { className: 'problem' });
  const applySnap = element('button', { textContent: 'Apply', onclick: () => change(view.name, 'snaplen', Number(snaplen.value), snapProblem) });
  applySnap.dataset.testid = 'snaplen-apply';
  cells.snaplen.append(snaplen, ' ', applySnap, snapProblem);

  if (takesDirection(view.definition.kind)) {
    const direction = element('select', {});
    for (const d of ['ingress', 'egress', 'bidirectional', 'off']) direction.append(element('option', { value: d, textContent: d, selected: view.definition.direction === d }));
    const dirProblem = element('div', { className: 'problem' });
    direction.onchange = () => change(view.name, 'direction', direction.value, dirProblem);
    cells.direction.append(direction, dirProblem);
  } else cells.direction.textContent = '—';

  const button = (label, testid, onclick) => {
    const b = element('button', { textContent: label, onclick });
    b.dataset.testid = testid;
    return b;
  };
  cells.actions.append(
    button('Stop', 'stop', () => request('POST', `/captures/${encodeURIComponent(view.name)}/stop`)),
    ' ',
    button('Delete', 'delete', async () => {
      const r = await request('DELETE', `/captures/${encodeURIComponent(view.name)}`);
      if (r.ok && state.selected === view.name) select(undefined);
    }),
    ' ',
    button('Download', 'download', () => download(view.name)),
  );
  for (const c of Object.values(cells)) tr.append(c);
  $('captures').tBodies[0].append(tr);
  row = { tr, cells };
  state.rows.set(view.name, row);
  return row;
}

function render(views) {
  const seen = new Set();
  for (const v of views) {
    seen.add(v.name);
    const { tr, cells } = rowFor(v);
    tr.classList.toggle('selected', v.name === state.selected);
    cells.kind.textContent = v.definition.kind;
    cells.status.textContent = v.status + (v.restored ? ' (restored)' : '');
    cells.status.className = `status-${v.status}`;
    cells.status.title = v.message || '';
    cells.status.dataset.testid = 'status';
    const sum = (key) => v.counters.points.reduce((n, p) => n + p[key], 0);
    for (const key of ['seen', 'matched', 'lost', 'captured', 'bytes']) {
      cells[key].textContent = String(sum(key));
      cells[key].dataset.testid = key;
    }
    cells.streams.textContent = String(v.stream.clients.length);
  }
  for (const [name, row] of state.rows) {
    if (seen.has(name)) continue;
    row.tr.remove();
    state.rows.delete(name);
  }
  $('empty').style.display = views.length ? 'none' : '';
}

function showPackets(packets) {
  for (const p of packets) state.packetLines.push(`${p.text}`);
  state.packetLines = state.packetLines.slice(-50);
  $('packets').textContent = state.packetLines.join('\n');
}

function select(name) {
  state.selected = name;
  state.packetLines = [];
  $('packets').textContent = '';
  $('packets-of').textContent = name ? `of ${name}` : '(choose a capture by its name)';
  connect();
}

/** Reads /events (fetch: the token goes along) and dispatches its events; reconnects after a failure. */
async function connect() {
  if (state.events) state.events.abort();
  const controller = new AbortController();
  state.events = controller;
  const live = $('live');
  try {
    const res = await fetch(`/events${state.selected ? `?capture=${encodeURIComponent(state.selected)}` : ''}`, { headers: headers(false), signal: controller.signal });
    if (!res.ok) throw new Error(res.status === 401 ? 'give the token' : `HTTP ${res.status}`);
    live.textContent = 'live';
    live.className = 'live on';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = (/^event: (.*)$/m.exec(message) || [])[1];
        const data = (/^data: (.*)$/m.exec(message) || [])[1];
        if (data === undefined) continue;
        if (event === 'captures') render(JSON.parse(data));
        else if (event === 'packets') showPackets(JSON.parse(data));
      }
    }
    throw new Error('the service closed the events');
  } catch (e) {
    if (controller.signal.aborted) return;
    live.textContent = `not live: ${e.message}`;
    live.className = 'live';
    setTimeout(() => { if (state.events === controller) void start(); }, 2000);
  }
}

async function start() {
  if (await loadInfo()) void connect();
}

window.addEventListener('DOMContentLoaded', () => {
  const token = $('token');
  token.value = sessionStorage.getItem('netcap-token') || '';
  let typing;
  token.oninput = () => {
    sessionStorage.setItem('netcap-token', token.value);
    clearTimeout(typing);
    typing = setTimeout(() => void start(), 500);
  };
  $('create').onsubmit = (e) => void create(e);
  $('packets-of').textContent = '(choose a capture by its name)';
  void start();
});
