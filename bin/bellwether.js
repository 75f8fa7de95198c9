#!/usr/bin/env node
// Thin launcher for the compiled CLI (npm ci builds dist/ through the `prepare` script).
import { main } from '../dist/src/cli/main.js';

await main(process.argv);
