#!/usr/bin/env node
// Launcher: runs the TypeScript CLI through tsx so the project has no build step to forget.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
