// Package bench holds hdscale's benchmark programs (one package main per
// directory: schedbench, placement) and their shared helpers under internal/.
// They run against the local control plane of e2e/tools/localcp.sh; the
// scripts e2e/tools/bench-*.sh drive them and docs/benchmarks.md records the
// commands and results.
package bench
