/**
 * Loads the source registry before each test file, as the dispatcher does in the program: the
 * envelope reads a source's own timestamp forms once its source has registered them, and a test
 * that imports one parser (or the envelope alone) would otherwise see none.
 */
import '../../src/sources/index.js';
