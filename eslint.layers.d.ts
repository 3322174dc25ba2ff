// Types of eslint.layers.js (plain JavaScript so eslint.config.js can load it on Node 20), for test/lint/layers.test.ts.
import type { Linter } from 'eslint';

export declare const IO_MODULES: string[];
export declare function layerRules(root: string, o?: { files?: string[] }): Linter.Config[];
