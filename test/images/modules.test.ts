import test from 'ava';
import { elfSection, parseModinfo } from '../../src/images/modules.js';

// The module parsers on hand-made bytes; resolving real Debian kernels is in modules-lab.test.ts.

test('elfSection refuses what is not a 64-bit ELF module', (t) => {
  t.throws(() => elfSection(Buffer.from('not an elf file at all, just text that is long enough to look'), '.modinfo', 'x.ko'), { message: /x\.ko: not a readable kernel module \(no ELF header\)/ });
});

test('parseModinfo reads depends= and only the pre: part of softdep=', (t) => {
  const section = Buffer.from('license=GPL\0depends=a,b-c\0softdep=pre: x y post: z\0name=m\0');
  t.deepEqual(parseModinfo(section), { depends: ['a', 'b-c'], softPre: ['x', 'y'] });
  t.deepEqual(parseModinfo(Buffer.from('depends=\0')), { depends: [], softPre: [] });
});
