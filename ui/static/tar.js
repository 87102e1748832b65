// Packs files chosen in the "Add a site" form into a tar (POSIX ustar, one folder level: each
// file at the site's root), so an operator can upload an index.html without making a tar first.
// The controller checks it like any other (src/cluster/content.ts checkContentTar).
(function () {
  'use strict';
  var encoder = new TextEncoder();

  function octal(n, width) {
    return n.toString(8).padStart(width - 1, '0') + '\0';
  }

  function header(name, size, mtime) {
    var h = new Uint8Array(512);
    var put = function (text, offset) { h.set(encoder.encode(text), offset); };
    var bytes = encoder.encode(name);
    if (bytes.length > 100) throw new Error(name + ': file names of up to 100 bytes only (or upload a .tar)');
    h.set(bytes, 0);
    put(octal(0o644, 8), 100);
    put(octal(0, 8), 108);
    put(octal(0, 8), 116);
    put(octal(size, 12), 124);
    put(octal(mtime, 12), 136);
    put('        ', 148); // the checksum counts its own field as spaces
    put('0', 156);
    put('ustar\0', 257);
    put('00', 263);
    var sum = 0;
    for (var i = 0; i < 512; i++) sum += h[i];
    put(octal(sum, 7) + ' ', 148);
    return h;
  }

  window.bootfleetTar = async function (files) {
    var parts = [];
    var mtime = Math.floor(Date.now() / 1000);
    for (var i = 0; i < files.length; i++) {
      var data = new Uint8Array(await files[i].arrayBuffer());
      parts.push(header(files[i].name, data.length, mtime), data, new Uint8Array((512 - (data.length % 512)) % 512));
    }
    parts.push(new Uint8Array(1024));
    var total = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(total);
    var at = 0;
    parts.forEach(function (p) {
      out.set(p, at);
      at += p.length;
    });
    return out;
  };
})();
