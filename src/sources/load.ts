/**
 * The modules of a source folder (src/sources/logs/, src/sources/counters/), each exporting
 * `source`, in file name order: `.js` when built, `.ts` under vitest. ESM has no synchronous
 * import of a folder, so the registries await this at load (see the import rule there).
 */
import { readdirSync } from 'node:fs';

export async function loadSourceModules<T>(dir: URL): Promise<T[]> {
  const files = readdirSync(dir).filter((f) => /\.(?:js|ts)$/.test(f) && !f.endsWith('.d.ts')).sort();
  const out: T[] = [];
  for (const f of files) {
    const mod = (await import(new URL(f, dir).href)) as { source?: T };
    if (!mod.source) throw new Error(`${new URL(f, dir).pathname} exports no source`);
    out.push(mod.source);
  }
  return out;
}
