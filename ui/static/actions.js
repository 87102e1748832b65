// The buttons and forms of the UI pages: each calls the controller's JSON admin API (the same
// routes the CLI uses, docs/http-api.md) with the session cookie, says what happened in the
// status line, and refreshes the page's live part.
(function () {
  'use strict';
  var flash = document.getElementById('flash');
  var enc = encodeURIComponent;

  function say(text, bad) {
    flash.textContent = text;
    flash.className = bad ? 'flash error' : 'flash ok';
    flash.setAttribute('role', bad ? 'alert' : 'status');
  }

  async function api(method, path, body, raw) {
    var init = { method: method, credentials: 'same-origin', headers: { accept: 'application/json' } };
    if (raw) {
      init.headers['content-type'] = 'application/x-tar';
      init.body = raw;
    } else if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    var res = await fetch(path, init);
    if (res.status === 401) {
      location.href = '/login?next=' + enc(location.pathname);
      throw new Error('the session ended: log in again');
    }
    var text = await res.text();
    var json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) throw new Error((json && json.error) || text.trim() || method + ' ' + path + ': HTTP ' + res.status);
    return json;
  }

  function value(id) {
    var el = document.getElementById(id);
    return el ? el.value.trim() : '';
  }

  function list(text) {
    return text.split(/[\s,]+/).filter(Boolean);
  }

  var actions = {
    approve: function (d) {
      return api('POST', '/api/nodes/' + enc(d.mac) + '/approve', {}).then(function () { return 'Approved ' + d.mac + ': it boots at its next try.'; });
    },
    drain: function (d) {
      return api('POST', '/api/nodes/' + enc(d.mac) + '/settings', { admin: 'drain' }).then(function () { return 'Draining ' + d.mac + ': its sites move to other nodes.'; });
    },
    undrain: function (d) {
      return api('POST', '/api/nodes/' + enc(d.mac) + '/settings', { admin: 'active' }).then(function () { return d.mac + ' takes sites again.'; });
    },
    reboot: function (d) {
      return api('POST', '/api/nodes/' + enc(d.mac) + '/reboot').then(function () { return d.mac + ' reboots.'; });
    },
    forget: function (d) {
      if (!confirm('Forget ' + d.name + '? Its approval is withdrawn too.')) return null;
      return api('DELETE', '/api/nodes/' + enc(d.mac)).then(function () { return 'Forgot ' + d.name + '.'; });
    },
    assign: function (d) {
      var select = document.getElementById('assign-' + d.site);
      if (!select || !select.value) throw new Error('no node to assign ' + d.site + ' to');
      var label = select.selectedOptions[0] ? select.selectedOptions[0].textContent : select.value;
      return api('POST', '/api/sites/' + enc(d.site) + '/assign', { node: select.value }).then(function () { return d.site + ' is pinned to ' + label + '.'; });
    },
    unassign: function (d) {
      return api('DELETE', '/api/sites/' + enc(d.site) + '/assign/' + enc(d.mac)).then(function () { return d.site + ' is no longer pinned to ' + d.mac + '.'; });
    },
    scale: function (d) {
      var body = { minReplicas: Number(value('min-' + d.site)), maxReplicas: Number(value('max-' + d.site)) };
      return api('POST', '/api/sites/' + enc(d.site) + '/scale', body).then(function (s) { return d.site + ': ' + s.minReplicas + '–' + s.maxReplicas + ' replicas.'; });
    },
    'remove-site': function (d) {
      if (!confirm('Remove site ' + d.site + ' from every node and the balancer?')) return null;
      return api('DELETE', '/api/sites/' + enc(d.site)).then(function () { return 'Removed ' + d.site + '.'; });
    },
    'rollout-pause': function () {
      return api('POST', '/api/rollout/pause').then(function () { return 'Rollout paused.'; });
    },
    'rollout-resume': function () {
      return api('POST', '/api/rollout/resume').then(function () { return 'Rollout resumed.'; });
    },
    'rollout-abort': function () {
      if (!confirm('Abort the rollout? Nodes already updated roll back.')) return null;
      return api('POST', '/api/rollout/abort').then(function () { return 'Rollout aborted.'; });
    },
  };

  var forms = {
    'add-site': async function (form) {
      var name = value('site-name');
      var files = Array.prototype.slice.call(document.getElementById('site-content').files);
      if (files.length === 0) throw new Error('Choose the site content: a .tar, or its files.');
      var tar = files.length === 1 && /\.tar$/i.test(files[0].name)
        ? new Uint8Array(await files[0].arrayBuffer())
        : await window.bootfleetTar(files);
      await api('POST', '/api/sites', {
        name: name,
        domains: list(value('site-domains')),
        minReplicas: Number(value('site-min')),
        maxReplicas: Number(value('site-max')),
        health: { path: value('site-health') || '/' },
      });
      try {
        await api('PUT', '/api/sites/' + enc(name) + '/content', undefined, tar);
      } catch (err) {
        // A site without content is never placed: take it away again rather than leave it half made.
        await api('DELETE', '/api/sites/' + enc(name)).catch(function () { return undefined; });
        throw new Error('The content was refused, so site ' + name + ' was not added: ' + err.message, { cause: err });
      }
      form.reset();
      return 'Added site ' + name + '; it is served once a node has it.';
    },
    'start-rollout': async function (form) {
      var body = { image: value('rollout-image') };
      if (value('rollout-max-unavailable')) body.maxUnavailable = Number(value('rollout-max-unavailable'));
      if (value('rollout-canary')) body.canary = Number(value('rollout-canary'));
      if (value('rollout-nodes')) body.nodes = list(value('rollout-nodes')).join(',');
      await api('POST', '/api/rollouts', body);
      form.reset();
      document.dispatchEvent(new CustomEvent('bootfleet:rollout'));
      return 'Rollout to ' + body.image + ' started.';
    },
  };

  async function run(work, control) {
    control.disabled = true;
    try {
      var message = await work();
      if (message) say(message);
      if (window.bootfleet) window.bootfleet.refresh();
    } catch (err) {
      say(err.message, true);
    } finally {
      control.disabled = false;
    }
  }

  document.addEventListener('click', function (e) {
    var button = e.target.closest('button[data-action]');
    if (!button || !actions[button.dataset.action]) return;
    run(function () { return actions[button.dataset.action](button.dataset); }, button);
  });

  document.addEventListener('submit', function (e) {
    var form = e.target.closest('form[data-form]');
    if (!form || !forms[form.dataset.form]) return;
    e.preventDefault();
    run(function () { return forms[form.dataset.form](form); }, form.querySelector('button[type=submit]'));
  });
})();
