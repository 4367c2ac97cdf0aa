// Package bench holds hdscale's benchmark programs (one package main per
// directory: schedbench, placement, admission, makespan, ...) and their
// shared helpers under internal/. Most run against the local control plane
// of e2e/tools/localcp.sh; admission and makespan (with its client execload
// and background load dutyburn) run against the kind cluster. The scripts
// e2e/tools/bench-*.sh drive them and docs/benchmarks.md records the
// commands and results.
package bench
