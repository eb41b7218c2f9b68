import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { README, render, renderTable, services } from '../config-docs.ts';

test('README configuration tables match the services’ config specs (run `npm run docs` to refresh)', () => {
  const readme = readFileSync(README, 'utf8');
  assert.equal(render(readme), readme);
});

test('every variable of every service appears in its table with its default and secrecy', () => {
  for (const { spec } of services) {
    const table = renderTable(spec);
    for (const v of Object.values(spec)) {
      const row = table.split('\n').find((l) => l.startsWith(`| \`${v.env}\` |`));
      assert.ok(row, `${v.env} missing`);
      if (v.default !== undefined) assert.ok(row.includes(`\`${v.default}\``), `${v.env} default missing`);
      assert.equal(row.includes('(secret)'), v.secret === true, `${v.env} secrecy`);
    }
  }
});
