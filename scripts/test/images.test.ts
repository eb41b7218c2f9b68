// The image build context, without building (npm run images:test builds and runs the images).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workspaceFolders } from '../image-workspaces.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

test('.dockerignore lets in the manifest and sources of every workspace, named one by one', () => {
  const exceptions = new Set(rules.filter((r) => r.startsWith('!')));
  const folders = [...workspaceFolders().values()];
  assert.ok(folders.length >= 6, 'the workspaces are found');
  for (const dir of folders) {
    assert.ok(exceptions.has(`!${dir}/package.json`), `.dockerignore has !${dir}/package.json`);
    assert.ok(exceptions.has(`!${dir}/src`), `.dockerignore has !${dir}/src`);
  }
  // buildah ignores an exception with a wildcard inside an excluded folder: the image would lack it.
  assert.deepEqual([...exceptions].filter((r) => /[*?[]/.test(r)), []);
});

test('the build context excludes tests, benchmarks and node_modules after the exceptions', () => {
  const lastException = rules.findLastIndex((r) => r.startsWith('!'));
  for (const rule of ['**/node_modules', '**/test', '**/bench', '**/*.test.ts']) {
    assert.ok(rules.indexOf(rule) > lastException, `${rule} comes after the last ! line (a later rule wins)`);
  }
});

test('every npm ci of the Dockerfile can use the host CA bundle, which no image keeps', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const steps = dockerfile.split(/\n(?=RUN |FROM |COPY |ENV |#)/).filter((s) => s.startsWith('RUN ') && s.includes('npm ci'));
  assert.ok(steps.length >= 3, 'one npm ci per image');
  for (const step of steps) {
    assert.match(step, /--mount=type=secret,id=npm-ca/);
    assert.match(step, /NODE_EXTRA_CA_CERTS=\/run\/secrets\/npm-ca/);
  }
  assert.doesNotMatch(dockerfile, /^(ENV|ARG)\s.*NODE_EXTRA_CA_CERTS/m, 'the CA path is not an image setting');
});
