// Live updates without reload (docs/ui.md "Live updates"): this page listens to /api/stream
// (server-sent events). Each `state` event is kept in window.bootfleetState for the other
// scripts, and the page's own part is fetched again (?part=main, rendered by the server with the
// same templates) and each [data-live] section swapped in place, keeping keyboard focus and
// whatever the operator is typing.
(function () {
  'use strict';
  var indicator = document.getElementById('live-state');
  var busy = false;
  var again = false;
  var lastHtml = '';

  function show(state, text) {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.textContent = text;
  }

  function toLogin() {
    location.href = '/login?next=' + encodeURIComponent(location.pathname);
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      var res = await fetch(location.pathname + '?part=main', { credentials: 'same-origin', headers: { accept: 'text/html' } });
      if (res.redirected || res.status === 401) return toLogin();
      if (!res.ok) return;
      var html = await res.text();
      if (html !== lastHtml) {
        lastHtml = html;
        swap(html);
      }
    } catch {
      show('offline', 'offline');
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, 'text/html');
    document.querySelectorAll('[data-live]').forEach(function (old) {
      var next = fresh.querySelector('[data-live="' + old.dataset.live + '"]');
      if (!next) return;
      var kept = keep(old);
      old.replaceWith(next);
      restore(next, kept);
    });
    document.dispatchEvent(new CustomEvent('bootfleet:updated'));
  }

  // Inputs the operator changed (or is in) keep their value; the focused control keeps focus.
  function keep(root) {
    var active = document.activeElement;
    var values = [];
    root.querySelectorAll('input, select, textarea').forEach(function (el) {
      if (!el.id) return;
      var edited = el.tagName === 'SELECT'
        ? Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; })
        : el.value !== el.defaultValue;
      if (edited || el === active) values.push([el.id, el.value]);
    });
    return { focus: active && active.id && root.contains(active) ? active.id : '', values: values };
  }

  function restore(root, kept) {
    kept.values.forEach(function (pair) {
      var el = document.getElementById(pair[0]);
      if (el && root.contains(el)) el.value = pair[1];
    });
    if (kept.focus) {
      var el = document.getElementById(kept.focus);
      if (el) el.focus();
    }
  }

  var stream = new EventSource('/api/stream');
  stream.addEventListener('state', function (e) {
    show('live', 'live');
    window.bootfleetState = JSON.parse(e.data);
    document.dispatchEvent(new CustomEvent('bootfleet:state'));
    refresh();
  });
  stream.addEventListener('error', function () {
    show('offline', 'reconnecting…');
    // A stream refused with 401 is not retried by the browser: the session ended.
    if (stream.readyState === EventSource.CLOSED) refresh();
  });

  window.bootfleet = { refresh: refresh };
})();
