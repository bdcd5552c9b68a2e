/**
 * vitest globalSetup: build before any test runs. Worker threads are loaded
 * by plain Node from dist/ (a .ts worker cannot be loaded), so without this
 * an edit under src/ or workers/ would be tested against the previous build.
 * The build is incremental: with nothing changed it costs a few seconds.
 */
import { build } from '../../scripts/build.mjs';

export default function setup(): void {
  build({ quiet: true });
}
