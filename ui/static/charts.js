// The Balancer page's graphs: request and error rates per site and per node over 15 minutes
// (GET /api/stats, 5-second steps), drawn with uPlot and refreshed every 5 seconds. Each graph
// is an image with a text label; the table under them carries the same latest figures as text.
(function () {
  'use strict';
  var charts = {};

  function nameOf(kind, key) {
    if (kind !== 'nodes') return 'site ' + key;
    var nodes = (window.bootfleetState && window.bootfleetState.nodes) || [];
    var n = nodes.find(function (x) { return x.mac === key; });
    return 'node ' + ((n && n.hostname) || key);
  }

  function chart(kind, key, container) {
    var id = kind + ':' + key;
    if (charts[id]) return charts[id];
    var figure = document.createElement('figure');
    figure.className = 'chart';
    figure.dataset.key = key;
    var caption = document.createElement('figcaption');
    caption.textContent = nameOf(kind, key);
    var plot = document.createElement('div');
    plot.setAttribute('role', 'img');
    plot.setAttribute('aria-label', 'Requests and errors per second of ' + nameOf(kind, key) + ' over the last 15 minutes (latest figures in the table below)');
    figure.append(caption, plot);
    container.append(figure);
    var u = new uPlot({
      width: Math.max(280, Math.min(560, container.clientWidth - 16)),
      height: 160,
      scales: { x: { time: true } },
      series: [{}, { label: 'requests/s', stroke: '#1d4ed8', width: 2 }, { label: 'errors/s', stroke: '#b91c1c', width: 2 }],
      axes: [{}, { size: 50 }],
    }, [[], [], []], plot);
    // uPlot's legend is a layout table (series colour and value): not data with headers.
    var legend = u.root.querySelector('.u-legend');
    if (legend) legend.setAttribute('role', 'presentation');
    charts[id] = u;
    return u;
  }

  function draw(kind, data) {
    var container = document.querySelector('[data-series="' + kind + '"]');
    if (!container) return;
    var keys = Object.keys(data[kind] || {});
    if (keys.length === 0 && !container.querySelector('figure')) {
      container.textContent = 'No traffic seen yet.';
      return;
    }
    if (container.firstChild && container.firstChild.nodeType === Node.TEXT_NODE) container.textContent = '';
    keys.forEach(function (key) {
      var s = data[kind][key];
      chart(kind, key, container).setData([data.t, s.requests, s.errors]);
    });
  }

  async function load() {
    try {
      var res = await fetch('/api/stats', { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (res.status === 401) {
        location.href = '/login?next=' + encodeURIComponent(location.pathname);
        return;
      }
      if (res.ok) {
        var data = await res.json();
        draw('sites', data);
        draw('nodes', data);
      }
    } finally {
      setTimeout(load, 5000);
    }
  }

  load();
})();
