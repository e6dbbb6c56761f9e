import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

/** The README's code blocks under `<!-- same as: file -->` and `<!-- lines of: file -->` markers. */
function markedBlocks(): { kind: 'same as' | 'lines of'; file: string; code: string }[] {
  const blocks = [];
  for (const match of read('README.md').matchAll(/<!-- (same as|lines of): (\S+) -->\n```\w*\n([\s\S]*?)```/g)) {
    blocks.push({ kind: match[1] as 'same as' | 'lines of', file: match[2]!, code: match[3]! });
  }
  return blocks;
}

describe("the README's Ruby and Python sections are what the tests run", () => {
  const blocks = markedBlocks();

  it('shows each helper whole, as the file the tests load', () => {
    const whole = blocks.filter((b) => b.kind === 'same as').map((b) => b.file);
    assert.deepEqual(whole.sort(), ['server/external-jobs/helpers/jobcast.py', 'server/external-jobs/helpers/jobcast.rb']);
    for (const block of blocks.filter((b) => b.kind === 'same as')) assert.equal(block.code, read(block.file), block.file);
  });

  it('keeps the helpers to about 20 lines of the standard library', () => {
    for (const file of ['server/external-jobs/helpers/jobcast.rb', 'server/external-jobs/helpers/jobcast.py']) {
      const text = read(file);
      assert.ok(text.trimEnd().split('\n').length <= 22, `${file} is short`);
      const imports = [...text.matchAll(/^(?:require '([\w/]+)'|import (.+))$/gm)].flatMap((m) => (m[1] ?? m[2]!).split(/,\s*/));
      const allowed = new Set(['net/http', 'openssl', 'json', 'hashlib', 'hmac', 'os', 'time', 'urllib.error', 'urllib.parse', 'urllib.request']);
      for (const name of imports) assert.ok(allowed.has(name), `${file} uses only the standard library, not ${name}`);
    }
  });

  it('shows worker lines that the test workers contain, each one', () => {
    const partial = blocks.filter((b) => b.kind === 'lines of');
    assert.ok(partial.length >= 5, 'Ruby: web, job, middleware; Python: web, job');
    for (const block of partial) {
      const lines = new Set(
        read(block.file)
          .split('\n')
          .map((l) => l.trim()),
      );
      for (const line of block.code.split('\n').map((l) => l.trim())) {
        if (line === '' || line.startsWith('#')) continue;
        assert.ok(lines.has(line), `${block.file} runs the README line: ${line}`);
      }
    }
  });
});
