import test from 'ava';
import { readFile } from 'node:fs/promises';

test('every error code in src/errors.ts is documented in docs/errors.md', async (t) => {
  const source = await readFile('src/errors.ts', 'utf8');
  const docs = await readFile('docs/errors.md', 'utf8');
  const codes = [...source.matchAll(/'(ERR_[A-Z_]+)'/g)].map((m) => m[1]);
  t.true(codes.length > 5);
  for (const code of new Set(codes)) t.true(docs.includes(`\`${code}\``), `${code} is missing from docs/errors.md`);
});
