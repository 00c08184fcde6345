/**
 * Runs `bytetrail throttle` from source in the current process's network namespace; the netns
 * test starts it with `ip netns exec` to prove --apply end to end. Not a test file by itself.
 */
import Throttle from '../../src/commands/throttle.js';

await Throttle.run(process.argv.slice(2), new URL('../..', import.meta.url).pathname);
