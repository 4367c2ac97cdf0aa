#!/usr/bin/env bash
# timed.sh TARGET...: runs `make TARGET` for each target in order, stops at the
# first failure, and prints how long every phase took (CI reads this table to
# see where a cold or warm run spends its time).
set -uo pipefail
declare -a rows
total_start=$SECONDS
rc=0
for t in "$@"; do
  start=$SECONDS
  printf '\n==== phase %s ====\n' "$t"
  make --no-print-directory "$t"
  rc=$?
  rows+=("$(printf '%-12s %5ds  %s' "$t" $((SECONDS - start)) "$([ $rc -eq 0 ] && echo ok || echo FAILED)")")
  [ $rc -ne 0 ] && break
done
printf '\n==== phase times ====\n'
printf '%s\n' "${rows[@]}"
printf '%-12s %5ds\n' total $((SECONDS - total_start))
passed=0; failed=0
for r in "${rows[@]}"; do case "$r" in *FAILED) failed=$((failed + 1)) ;; *) passed=$((passed + 1)) ;; esac; done
printf 'phases: %d passed, %d failed\n' "$passed" "$failed"
exit $rc
