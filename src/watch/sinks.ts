/**
 * Where alerts go: one human line on stderr, a JSON line appended to `--alert-log`, a row in
 * the database (for `status`), and the `--exec` hook, which gets the JSON on stdin. The hook
 * runs through /bin/sh with a timeout; hooks run one at a time, in order, and never hold up
 * reading. A failing hook is reported once per incident and never stops `watch`.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { describeFsError } from '../errors.js';
import { escapeControls } from '../output.js';
import type { WatchStore } from '../store/watch.js';
import type { Alert } from './alerts.js';

/** What every alert the sinks send has: traffic alerts (alerts.ts) and quota alerts (usage.ts). */
export type SinkAlert = Pick<Alert, 'incident' | 'emittedAt' | 'summary'> & { type: string };

export interface SinkOptions {
  alertLog?: string;
  exec?: string;
  execTimeoutMs: number;
  notice(message: string): void;
  /** Where the human line goes (default stderr). */
  write?: (line: string) => void;
  /** Told of each delivery and failure, per sink (`watch --metrics` counts them). */
  report?: { delivered(sink: string, type: string): void; failed(sink: string): void };
}

export class AlertSinks {
  emitted = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly failedIncidents = new Set<string>();
  private logFailed = false;
  private readonly children = new Set<number>();

  constructor(private readonly ws: WatchStore, private readonly o: SinkOptions) {}

  emit(alert: SinkAlert): void {
    this.emitted++;
    const json = JSON.stringify(alert);
    // The summary names accounts and interfaces from the data: escaped, it stays one harmless line.
    (this.o.write ?? ((l: string) => process.stderr.write(l)))(`bytetrail: ${escapeControls(alert.summary)}\n`);
    this.o.report?.delivered('stderr', alert.type);
    this.ws.recordAlert({ ts: Date.parse(alert.emittedAt), incident: alert.incident, type: alert.type, summary: alert.summary, json });
    this.o.report?.delivered('database', alert.type);
    if (this.o.alertLog) {
      try {
        appendFileSync(this.o.alertLog, json + '\n', { mode: 0o640 });
        this.logFailed = false;
        this.o.report?.delivered('alert-log', alert.type);
      } catch (err) {
        this.o.report?.failed('alert-log');
        if (!this.logFailed) this.o.notice(`${describeFsError(this.o.alertLog, err, 'write')}; alerts still go to stderr and the database`);
        this.logFailed = true;
      }
    }
    if (this.o.exec) {
      const cmd = this.o.exec;
      this.chain = this.chain.then(() => this.runHook(cmd, alert, json));
    }
  }

  /** Wait for hooks still running (each is bounded by its timeout). */
  async drain(): Promise<void> {
    await this.chain;
  }

  private runHook(cmd: string, alert: SinkAlert, json: string): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      let stderr = '';
      const finish = (failure: string | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (failure) this.o.report?.failed('exec'); else this.o.report?.delivered('exec', alert.type);
        if (failure && !this.failedIncidents.has(alert.incident)) {
          this.failedIncidents.add(alert.incident);
          this.o.notice(`--exec hook failed for incident ${alert.incident}: ${failure}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()!.slice(0, 200)}` : ''} (further failures for this incident are not reported)`);
        }
        resolve();
      };
      // Its own process group, so that a timeout ends the hook and whatever it started.
      const child = spawn('/bin/sh', ['-c', cmd], {
        stdio: ['pipe', 'ignore', 'pipe'], detached: true,
        // The incident id holds an interface name from the data (a pcapng's, say): escaped for the hook's shell.
        env: { ...process.env, BYTETRAIL_ALERT_TYPE: escapeControls(alert.type), BYTETRAIL_INCIDENT: escapeControls(alert.incident) },
      });
      const pid = child.pid;
      if (pid !== undefined) this.children.add(pid);
      const timer = setTimeout(() => {
        if (pid !== undefined) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
        finish(`timed out after ${Math.round(this.o.execTimeoutMs / 1000)} s`);
      }, this.o.execTimeoutMs);
      child.on('error', (err) => finish(err.message));
      child.stderr?.on('data', (c: Buffer) => { if (stderr.length < 4096) stderr += c.toString('utf8'); });
      child.on('close', (code, signal) => {
        if (pid !== undefined) this.children.delete(pid);
        finish(code === 0 ? null : signal ? `killed by ${signal}` : `exit status ${code}`);
      });
      // A hook that does not read its stdin is fine.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(json + '\n');
    });
  }
}
