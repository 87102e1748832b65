// The rollout panel of the Images page: the current rollout (GET /api/rollout, or the event
// stream's `rollout` when the controller sends it there) with each node's phase, followed live:
// once a second while it runs. Built with DOM calls and textContent only (no HTML from data).
(function () {
  'use strict';
  var body = document.getElementById('rollout-body');
  if (!body) return;
  var timer;
  var finished = true;

  function el(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  function ago(iso) {
    var t = Date.parse(iso);
    if (!isFinite(t)) return '';
    var s = Math.max(0, Math.round((Date.now() - t) / 1000));
    return s < 60 ? s + ' s ago' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s ago';
  }

  function nodeName(mac, hostname) {
    var nodes = (window.bootfleetState && window.bootfleetState.nodes) || [];
    var n = nodes.find(function (x) { return x.mac === mac; });
    return hostname || (n && n.hostname) || mac;
  }

  function render(r) {
    body.replaceChildren();
    if (!r) {
      body.append(el('p', 'No rollout has run yet.'));
      return;
    }
    var nodes = r.nodes || [];
    var done = nodes.filter(function (n) { return n.phase === 'done'; }).length;
    var head = el('p', null, { 'data-rollout-status': r.status });
    head.append('Rollout ', el('strong', r.id), ' to ', el('code', r.image), ': ', el('span', r.status, { class: 'status status-' + r.status }));
    if (r.reason) head.append(' — ' + r.reason);
    body.append(head);
    var times = 'started ' + ago(r.startedAt) + (r.finishedAt ? ', finished ' + ago(r.finishedAt) : '');
    body.append(el('p', times, { class: 'muted' }));
    var label = el('label', done + ' of ' + nodes.length + ' nodes done ', { for: 'rollout-progress' });
    body.append(label, el('progress', null, { id: 'rollout-progress', max: String(Math.max(1, nodes.length)), value: String(done) }));
    if (!r.finishedAt) {
      var buttons = el('p', null, { class: 'actions' });
      if (r.status === 'paused') buttons.append(el('button', 'Resume', { type: 'button', 'data-action': 'rollout-resume', id: 'rollout-resume' }));
      else buttons.append(el('button', 'Pause', { type: 'button', 'data-action': 'rollout-pause', id: 'rollout-pause' }));
      buttons.append(' ', el('button', 'Abort', { type: 'button', 'data-action': 'rollout-abort', id: 'rollout-abort', class: 'danger' }));
      body.append(buttons);
    }
    var table = el('table', null, { class: 'rollout-nodes' });
    table.append(el('caption', 'Each node of the rollout and its phase', { class: 'visually-hidden' }));
    var hr = el('tr');
    ['Node', 'Phase', 'Since', 'From', 'To', 'Detail'].forEach(function (h) { hr.append(el('th', h, { scope: 'col' })); });
    table.append(el('thead'));
    table.tHead.append(hr);
    var tb = el('tbody');
    nodes.forEach(function (n) {
      var tr = el('tr', null, { 'data-mac': n.mac, 'data-phase': n.phase });
      tr.append(el('th', nodeName(n.mac, n.hostname), { scope: 'row' }), el('td', n.phase, { class: 'phase phase-' + n.phase }), el('td', ago(n.since)), el('td', n.from || ''), el('td', n.to || ''), el('td', n.detail || ''));
      tb.append(tr);
    });
    table.append(tb);
    body.append(table);
  }

  // 404 from the rollout route means "none yet"; a 404 from the router means the route is missing.
  async function fetchRollout() {
    var res = await fetch('/api/rollout', { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (res.status === 401) {
      location.href = '/login?next=' + encodeURIComponent(location.pathname);
      return undefined;
    }
    var text = await res.text();
    if (res.status === 404 && /^no route for/.test(text)) throw new Error('this controller has no rollouts (GET /api/rollout is missing)');
    if (res.status === 404) return null;
    if (!res.ok) throw new Error('GET /api/rollout: HTTP ' + res.status + ' ' + text.trim());
    return JSON.parse(text);
  }

  async function load() {
    clearTimeout(timer);
    try {
      var state = window.bootfleetState;
      var r = state && 'rollout' in state ? state.rollout : await fetchRollout();
      if (r === undefined) return;
      finished = !r || Boolean(r.finishedAt);
      render(r);
    } catch (err) {
      body.replaceChildren(el('p', err.message, { class: 'error', role: 'alert' }));
    }
    timer = setTimeout(load, finished ? 5000 : 1000);
  }

  document.addEventListener('bootfleet:rollout', load);
  document.addEventListener('bootfleet:state', function () {
    if (window.bootfleetState && 'rollout' in window.bootfleetState) load();
  });
  load();
})();
