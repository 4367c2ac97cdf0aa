#!/usr/bin/env bash
# fuzz-instrument.sh: a `go test -toolexec` wrapper for `make fuzz-long`
# (FUZZ_INSTRUMENT=focused, the default there). It compiles with Go's fuzz
# coverage instrumentation (-d=libfuzzer) only hdscale's own packages and
# the libraries a fuzz input flows through; every other package (client-go,
# the API groups of k8s.io/api, protobuf, Prometheus, zap, ...) is compiled
# without coverage counters.
#
# Why: Go's fuzz engine clears, copies and compares the whole coverage
# counter array on every execution. With everything a package's test binary
# links instrumented, that array holds 275,000-507,000 counters, and the
# engine's bookkeeping takes 80-99 % of a worker's CPU (docs/fuzzing.md,
# "Where the time goes"). Instrumenting only the code the inputs reach cuts
# the array to a few tens of thousands and makes the targets several times
# faster; the invariants each target checks are unchanged. What is given up:
# coverage no longer guides the mutator through the uninstrumented packages
# (they still run, and a panic or a broken invariant there still fails).
#
# The list below is the input path of the ten targets:
#   hdscale                       every target's own code
#   encoding/json, sigs.k8s.io/json
#                                 AdmissionReview, pod, namespace, ExtenderArgs
#                                 and annotation decoding
#   gomodules.xyz/jsonpatch, gopkg.in/evanphx/json-patch
#                                 the patch FuzzMutate builds and applies
#   sigs.k8s.io/yaml, go.yaml.in/yaml, gopkg.in/yaml
#                                 FuzzParseConfig
#   resource, intstr, labels, util/validation (apimachinery)
#                                 quantities, label keys and values
#   github.com/google/cel-go/interpreter
#                                 FuzzMatchConditions' evaluation
#   encoding/pem, encoding/asn1, crypto/x509, cryptobyte
#                                 FuzzDecodeSecret
#
# FUZZ_INSTRUMENT=all on make fuzz-long instruments everything instead.
# Usage (what the Makefile runs):
#   go test -toolexec=$PWD/e2e/tools/fuzz-instrument.sh -run='^$' -fuzz=... ./pkg
set -euo pipefail

keep='^(github\.com/hdscale/hdscale(/.*)?'
keep+='|encoding/json|encoding/pem|encoding/asn1|crypto/x509'
keep+='|golang\.org/x/crypto/cryptobyte(/.*)?'
keep+='|sigs\.k8s\.io/json(/.*)?|sigs\.k8s\.io/yaml(/.*)?|go\.yaml\.in/yaml/v[0-9]+|gopkg\.in/yaml\.v[0-9]+'
keep+='|gomodules\.xyz/jsonpatch/v2|gopkg\.in/evanphx/json-patch\.v4'
keep+='|k8s\.io/apimachinery/pkg/api/resource|k8s\.io/apimachinery/pkg/util/intstr'
keep+='|k8s\.io/apimachinery/pkg/labels|k8s\.io/apimachinery/pkg/util/validation(/field)?'
keep+='|github\.com/google/cel-go/interpreter'
keep+=')$'

tool=$1
shift
# The go command keys its build cache on each tool's `-V=full` answer, so
# without this the packages compiled here would be taken for (and mixed with)
# those of a normal, fully instrumented build. Appending the keep list to the
# answer gives them cache entries of their own.
if [ "${1:-}" = -V=full ]; then
  printf '%s fuzz-instrument=%s\n' "$("$tool" "$@")" "$(printf %s "$keep" | sha256sum | cut -c1-16)"
  exit 0
fi
if [ "$(basename "$tool")" = compile ]; then
  pkg= prev=
  for a in "$@"; do
    if [ "$prev" = -p ]; then pkg=$a; fi
    prev=$a
  done
  # An external test package (path_test) counts as its package.
  if [ -n "$pkg" ] && ! [[ ${pkg%_test} =~ $keep ]]; then
    args=()
    for a in "$@"; do
      if [ "$a" != -d=libfuzzer ]; then args+=("$a"); fi
    done
    exec "$tool" "${args[@]}"
  fi
fi
exec "$tool" "$@"
