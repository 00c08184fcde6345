/** Benchmarks of the later stages: investigate on a month of data (and captures, watch soak). */
import { benchInvestigate } from './investigate.js';

export async function runExtra(only: string | undefined, dir: string): Promise<void> {
  if (!only || only === 'investigate') await benchInvestigate(dir);
}
