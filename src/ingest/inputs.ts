/** Expand ingest arguments: files, directories (recursively), globs, and `-` for stdin. */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { describeFsError } from '../errors.js';

export interface InputProblem { path: string; message: string }

const GLOB_CHARS = /[*?[]/;

export const COMPRESSED_NAME = /\.(gz|xz|bz2|zst|lz4)$/;
/** logrotate's names for old files: mail.log.1, mail.log.2.gz, mail.log-20261120, mail.log-2026112012.gz. */
export const ROTATED_NAME = /(\.\d+|-\d{8}(\d{2})?|\.old)(\.(gz|xz|bz2|zst|lz4))?$/;

/** Whether a name says its file was rotated away: no writer adds to it any more. */
export function isRotatedName(p: string): boolean {
  return ROTATED_NAME.test(basename(p)) || COMPRESSED_NAME.test(p);
}

function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else { re += '[' + glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']'; i = end; }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

/** Expand a glob whose wildcards may be in any path component. */
function expandGlob(pattern: string): string[] {
  const abs = resolve(pattern);
  const parts = abs.split('/').filter(Boolean);
  let bases = ['/'];
  for (const part of parts) {
    const next: string[] = [];
    for (const b of bases) {
      if (!GLOB_CHARS.test(part)) { next.push(join(b, part)); continue; }
      const re = globToRegExp(part);
      let names: string[] = [];
      try { names = readdirSync(b); } catch { continue; }
      for (const n of names.sort()) if (re.test(n) && (part.startsWith('.') || !n.startsWith('.'))) next.push(join(b, n));
    }
    bases = next;
  }
  return bases;
}

function walk(dir: string, out: string[], problems: InputProblem[]): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    problems.push({ path: dir, message: describeFsError(dir, err) });
    return;
  }
  for (const n of names) {
    if (n.startsWith('.')) continue;
    const p = join(dir, n);
    let st;
    try { st = statSync(p); } catch (err) { problems.push({ path: p, message: describeFsError(p, err) }); continue; }
    if (st.isDirectory()) walk(p, out, problems);
    else if (st.isFile()) out.push(p);
  }
}

/** Resolve arguments to a de-duplicated, ordered list of files ('-' kept for stdin). */
export function expandInputs(args: string[]): { files: string[]; problems: InputProblem[] } {
  const files: string[] = [];
  const problems: InputProblem[] = [];
  for (const arg of args) {
    if (arg === '-') { files.push('-'); continue; }
    let st;
    try {
      st = statSync(arg);
    } catch (err) {
      if (GLOB_CHARS.test(arg)) {
        const hits = expandGlob(arg);
        if (hits.length === 0) problems.push({ path: arg, message: `no file matches ${arg}` });
        for (const h of hits) {
          try {
            const s = statSync(h);
            if (s.isDirectory()) walk(h, files, problems); else if (s.isFile()) files.push(h);
          } catch (e) { problems.push({ path: h, message: describeFsError(h, e) }); }
        }
        continue;
      }
      problems.push({ path: arg, message: describeFsError(arg, err) });
      continue;
    }
    if (st.isDirectory()) walk(arg, files, problems);
    else if (st.isFile() || st.isFIFO() || st.isCharacterDevice()) files.push(arg);
    else problems.push({ path: arg, message: `cannot read ${arg}: not a regular file` });
  }
  // Oldest rotation first (mail.log.3.gz, mail.log.2.gz, mail.log.1, mail.log), so time runs forward.
  const seen = new Set<string>();
  const unique = files.filter((f) => (f === '-' ? true : seen.has(resolve(f)) ? false : (seen.add(resolve(f)), true)));
  return { files: sortRotations(unique), problems };
}

function rotationIndex(p: string): number {
  const m = /\.(\d+)(?:\.gz)?$/.exec(basename(p));
  return m ? +m[1] : 0;
}

function rotationBase(p: string): string {
  return join(dirname(p), basename(p).replace(/(?:\.\d+)?(?:\.gz)?$/, ''));
}

function sortRotations(files: string[]): string[] {
  const order = new Map(files.map((f, i) => [f, i]));
  return [...files].sort((a, b) => {
    if (a === '-' || b === '-') return order.get(a)! - order.get(b)!;
    const ba = rotationBase(a), bb = rotationBase(b);
    if (ba !== bb) return order.get(a)! - order.get(b)!;
    return rotationIndex(b) - rotationIndex(a);
  });
}
