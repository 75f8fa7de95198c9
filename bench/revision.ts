// Which code a bench run measured.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What makes up the code a bench measures (prose excluded: a README edit changes no figure). */
const CODE = ['src', 'bench', 'package.json', 'package-lock.json', ':(exclude)*.md'];

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** The commit checked out (short); undefined outside a git checkout. */
export function gitCommit(cwd = process.cwd()): string | undefined {
  try {
    return git(['rev-parse', '--short', 'HEAD'], cwd).trim();
  } catch {
    return undefined;
  }
}

/**
 * A digest of the code as it is in the working tree — every file, committed or not, under src/ and
 * bench/ and the package files, by path and content — so runs of the same code match whatever the
 * commit (a documentation commit changes none of it) and runs of different code never do.
 * Undefined outside a git checkout.
 */
export function codeRevision(cwd = process.cwd()): string | undefined {
  try {
    const root = git(['rev-parse', '--show-toplevel'], cwd).trim();
    const files = git(['ls-files', '--cached', '--others', '--exclude-standard', '--', ...CODE], cwd)
      .split('\n')
      .filter((f) => f !== '')
      .sort();
    const digest = createHash('sha256');
    for (const file of [...new Set(files)]) {
      const path = join(root, file);
      // Listed by the index but deleted in the working tree: not part of the code any more.
      if (existsSync(path)) digest.update(`\0${file}\0`).update(readFileSync(path));
    }
    return digest.digest('hex').slice(0, 12);
  } catch {
    return undefined;
  }
}
