/** Types of scripts/build.mjs, for test/setup/build.ts and test/worker-build.test.ts. */
export declare const SOURCE_DIRS: readonly string[];
export declare function sourcesHash(): string;
export declare function build(opts?: { quiet?: boolean }): void;
