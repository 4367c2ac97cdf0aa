package extender

import (
	"testing"
	"unsafe"
)

// A request writes one nodeEval per candidate node and the explain ring
// keeps them: keep it small.
func TestNodeEvalStaysSmall(t *testing.T) {
	t.Parallel()
	if got := unsafe.Sizeof(nodeEval{}); got > 72 {
		t.Errorf("nodeEval is %d bytes, want at most 72", got)
	}
}
