import test from 'ava';
import { renderSourcesList } from '../../src/images/apt-config.js';

test('the private sources list serves both architectures with our components', (t) => {
  const text = renderSourcesList([
    { uri: 'http://deb.debian.org/debian', suites: ['bookworm', 'bookworm-updates'], components: ['main', 'non-free-firmware'], signedBy: '/k.gpg' },
  ]);
  t.is(
    text,
    'deb [arch=amd64,arm64 signed-by=/k.gpg] http://deb.debian.org/debian bookworm main non-free-firmware\n' +
      'deb [arch=amd64,arm64 signed-by=/k.gpg] http://deb.debian.org/debian bookworm-updates main non-free-firmware\n',
  );
});
