/** Benchmarks of later stages (captures, investigate, watch soak) register here. */
export async function runExtra(_only: string | undefined, _dir: string): Promise<void> {
  // filled in as the stages land
}
