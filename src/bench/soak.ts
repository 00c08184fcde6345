/**
 * Soak benchmark of `watch`: append lines to 4 files at a steady rate (5,000 lines/s by
 * default) for 10 minutes, rotating one file every 15 s (each file once a minute, by rename
 * and by copytruncate in turn), while `bytetrail watch` runs as a child process with its
 * default settings. Reports:
 *
 * - end-to-end lag: each line carries the time it was written (in its client hostname); the
 *   database is polled every 100 ms from here, so a lag is "written" to "seen committed"
 *   (it includes up to 100 ms of polling granularity);
 * - CPU of the watch process (utime + stime from /proc/<pid>/stat), after warm-up and overall;
 * - RSS over time (VmRSS from /proc/<pid>/status) and its growth after warm-up;
 * - lines lost or stored twice (both must be 0).
 *
 * `BENCH_SOAK_SECONDS` shortens the run. Figures, not assertions: see the README, "Watching live".
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventTail } from '../store/bench.js';
import { bsdStamp } from './generate.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js');
const FILES = 4;
const POLL_MS = 100;
const SAMPLE_MS = 10_000;

interface Sample { t: number; rssMb: number; cpuPct: number }

function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(r.stdout?.trim()) || 100;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number, hz: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / hz;
  } catch { return null; }
}

function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch { return null; }
}

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i] - mx) * (ys[i] - my); den += (xs[i] - mx) ** 2; }
  return den ? num / den : 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export async function benchSoak(opts: { dir: string; seconds?: number; linesPerSec?: number }): Promise<Record<string, unknown>> {
  const seconds = opts.seconds ?? (Number(process.env.BENCH_SOAK_SECONDS) || 600);
  const rate = opts.linesPerSec ?? 5000;
  const warmupS = Math.min(120, Math.floor(seconds / 3));
  const dir = join(opts.dir, 'soak');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // As on a server: the database (/var/lib/bytetrail) is not in the log directory (/var/log).
  mkdirSync(join(dir, 'db'));
  mkdirSync(join(dir, 'log'));
  const db = join(dir, 'db', 'soak.db');
  const files = Array.from({ length: FILES }, (_, i) => join(dir, 'log', `mail${i}.log`));
  for (const f of files) writeFileSync(f, '');
  const hz = clockTicks();

  const extra = process.env.BENCH_SOAK_WATCH_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...(process.env.BENCH_SOAK_NODE_ARGS?.split(' ').filter(Boolean) ?? []), BIN, 'watch', '--db', db, '--tz', 'UTC', ...extra, ...files], {
    stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BYTETRAIL_NO_PROGRESS: '1' },
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString('utf8'); if (stderr.length > 1 << 16) stderr = stderr.slice(-(1 << 15)); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const pid = child.pid!;
  // Wait for the database and the first reads.
  for (let i = 0; i < 100 && !/watching/.test(stderr); i++) await sleep(50);
  await sleep(1000);

  const t0 = Date.now();
  const cpu0 = cpuSeconds(pid, hz) ?? 0;
  let written = 0, seq = 0, rotations = 0;
  const lags: number[] = [];
  const samples: Sample[] = [];
  let lastId = 0;
  const tail = new EventTail(db);
  let cpuPrev = cpu0, tPrev = t0;
  let cpuWarm: number | null = null, tWarm = 0;

  const writeBurst = () => {
    const now = Date.now();
    const due = Math.floor(((now - t0) / 1000) * rate) - written;
    if (due <= 0) return;
    const per: string[][] = files.map(() => []);
    const stamp = bsdStamp(now);
    for (let k = 0; k < due; k++) {
      const i = seq++;
      per[i % FILES].push(`${stamp} mx1 postfix/smtpd[${20000 + (i % 30000)}]: connect from w${now}-${i}.example.net[192.0.2.${(i % 250) + 1}]\n`);
    }
    per.forEach((lines, f) => { if (lines.length) appendFileSync(files[f], lines.join('')); });
    written += due;
  };

  /** Each file once a minute, one every 15 s: rename (logrotate `create`) and copytruncate in turn. */
  const rotate = (n: number) => {
    const f = files[n % FILES];
    rmSync(f + '.1', { force: true });
    if (Math.floor(n / FILES) % 2 === 0) { renameSync(f, f + '.1'); writeFileSync(f, ''); }
    else { copyFileSync(f, f + '.1'); truncateSync(f, 0); }
    rotations++;
  };

  const poll = () => {
    try {
      const seen = Date.now();
      // Every 5th row: enough samples, little work.
      const rows = tail.rawsAfter(lastId);
      for (const [id, raw] of rows) {
        lastId = id;
        if (id % 5) continue;
        const m = / from w(\d+)-/.exec(raw);
        if (m) lags.push(seen - Number(m[1]));
      }
    } catch { /* not created yet */ }
  };

  const sample = () => {
    const now = Date.now();
    const c = cpuSeconds(pid, hz), r = rssMb(pid);
    if (c === null || r === null) return;
    samples.push({ t: Math.round((now - t0) / 1000), rssMb: r, cpuPct: Math.round(((c - cpuPrev) / ((now - tPrev) / 1000)) * 1000) / 10 });
    cpuPrev = c; tPrev = now;
    if (cpuWarm === null && now - t0 >= warmupS * 1000) { cpuWarm = c; tWarm = now; }
  };

  const writer = setInterval(writeBurst, 50);
  const poller = setInterval(poll, process.env.BENCH_SOAK_NOPOLL ? 1e9 : POLL_MS);
  const sampler = setInterval(sample, SAMPLE_MS);
  let nRot = 0;
  const rotator = setInterval(() => { writeBurst(); rotate(nRot++); }, 15_000);
  const lagFromWarm = () => lags.length;
  let lagWarmIndex = 0;
  const warmMark = setTimeout(() => { lagWarmIndex = lagFromWarm(); }, warmupS * 1000);
  process.stderr.write(`bench: soak of watch: ${fmt(rate)} lines/s over ${FILES} files for ${seconds} s (warm-up ${warmupS} s), pid ${pid}\n`);
  await sleep(seconds * 1000);
  clearInterval(writer); clearInterval(rotator); clearInterval(sampler); clearTimeout(warmMark);
  writeBurst();
  const tEnd = Date.now();
  const cpuEnd = cpuSeconds(pid, hz) ?? cpuPrev;
  // Let watch catch up with the last lines, then stop it.
  const catchUp0 = Date.now();
  const count = () => { try { return tail.count(); } catch { return 0; } };
  while (count() < written && Date.now() - catchUp0 < 60_000) await sleep(POLL_MS);
  clearInterval(poller);
  poll();
  const catchUpS = (Date.now() - catchUp0) / 1000;
  child.kill('SIGTERM');
  const code = await exited;
  const final = tail.counts();
  tail.close();
  let dbMb = 0;
  for (const s of ['', '-wal']) { try { dbMb += Number(spawnSync('stat', ['-c', '%s', db + s], { encoding: 'utf8' }).stdout) / 1e6; } catch { /* none */ } }

  const all = Float64Array.from(lags).sort();
  const steady = Float64Array.from(lags.slice(lagWarmIndex)).sort();
  const warmSamples = samples.filter((s) => s.t > warmupS);
  const rssWarm = warmSamples[0]?.rssMb ?? null, rssEnd = samples[samples.length - 1]?.rssMb ?? null;
  const rssSlope = slope(warmSamples.map((s) => s.t / 60), warmSamples.map((s) => s.rssMb));
  const wall = (tEnd - t0) / 1000;
  const result = {
    seconds, linesPerSec: rate, files: FILES, rotations, written, stored: final.n, lost: written - final.d, storedTwice: final.n - final.d,
    lagP50s: percentile(steady, 0.5) / 1000, lagP99s: percentile(steady, 0.99) / 1000, lagMaxS: percentile(steady, 1) / 1000,
    lagP99AllS: percentile(all, 0.99) / 1000, lagSamples: steady.length,
    cpuPctOverall: Math.round(((cpuEnd - cpu0) / wall) * 1000) / 10,
    cpuPctAfterWarmup: cpuWarm === null ? null : Math.round(((cpuEnd - cpuWarm) / ((tEnd - tWarm) / 1000)) * 1000) / 10,
    rssMbAfterWarmup: rssWarm, rssMbEnd: rssEnd, rssMbPerMinAfterWarmup: Math.round(rssSlope * 100) / 100,
    rssSeries: samples, catchUpS, dbMb: Math.round(dbMb), exitCode: code,
  };

  console.log(`\n## watch soak: ${fmt(rate)} lines/s over ${FILES} files for ${seconds} s, ${rotations} rotations (rename and copytruncate in turn)`);
  console.log(`lines               ${fmt(written)} written, ${fmt(final.n)} stored: ${fmt(result.lost)} lost, ${fmt(result.storedTwice)} stored twice`);
  console.log(`end-to-end lag      p50 ${result.lagP50s.toFixed(2)} s   p99 ${result.lagP99s.toFixed(2)} s   max ${result.lagMaxS.toFixed(2)} s   (after warm-up; p99 overall ${result.lagP99AllS.toFixed(2)} s)`);
  console.log(`CPU of watch        ${result.cpuPctAfterWarmup ?? '-'}% of one core after warm-up, ${result.cpuPctOverall}% overall`);
  console.log(`RSS of watch        ${rssWarm ?? '-'} MB after warm-up, ${rssEnd ?? '-'} MB at the end (${result.rssMbPerMinAfterWarmup >= 0 ? '+' : ''}${result.rssMbPerMinAfterWarmup} MB/min)`);
  console.log(`database            ${result.dbMb} MB; caught up ${catchUpS.toFixed(1)} s after the writer stopped; watch exit status ${code}`);
  console.log(`   t(s)  RSS(MB)  CPU(%)`);
  for (const s of samples) console.log(`${String(s.t).padStart(7)}  ${String(s.rssMb).padStart(7)}  ${s.cpuPct.toFixed(1).padStart(6)}`);
  for (const f of files) { for (const x of [f, f + '.1']) { try { unlinkSync(x); } catch { /* gone */ } } }
  return result;
}

// `node dist/bench/soak.js [seconds]` runs it alone.
if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const secs = Number(process.argv[2]) || undefined;
  const r = await benchSoak({ dir: join(import.meta.dirname, '..', '..', '.bench'), seconds: secs });
  const { rssSeries: _series, ...rest } = r as Record<string, unknown>;
  process.stderr.write(JSON.stringify(rest) + '\n');
}
