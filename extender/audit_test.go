package extender

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
)

func TestAuditForgetsOnlyPodsTheAPIServerNoLongerHas(t *testing.T) {
	t.Parallel()
	live := map[string]*v1.Pod{
		"replaced": {ObjectMeta: metav1.ObjectMeta{Name: "replaced", UID: "new"}, Spec: v1.PodSpec{NodeName: "r-0"}},
		"done":     {ObjectMeta: metav1.ObjectMeta{Name: "done", UID: "done"}, Spec: v1.PodSpec{NodeName: "r-0"}, Status: v1.PodStatus{Phase: v1.PodSucceeded}},
		"moved":    {ObjectMeta: metav1.ObjectMeta{Name: "moved", UID: "moved"}, Spec: v1.PodSpec{NodeName: "r-1"}},
		"there":    {ObjectMeta: metav1.ObjectMeta{Name: "there", UID: "there"}, Spec: v1.PodSpec{NodeName: "r-0"}},
	}
	read := func(_ context.Context, ns, name string) (*v1.Pod, error) {
		if name == "flaky" {
			return nil, errors.New("connection refused")
		}
		if p, ok := live[name]; ok {
			return p, nil
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
	}
	var forgot []types.UID
	phantoms := 0
	clk := testingclock.NewFakeClock(t0)
	a := newAuditor(read, clk, logr.Discard(), func(uid types.UID) { forgot = append(forgot, uid) }, func() { phantoms++ })
	refs := []podRef{
		{UID: "gone", Name: "gone", Node: "r-0"},
		{UID: "old", Name: "replaced", Node: "r-0"},
		{UID: "done", Name: "done", Node: "r-0"},
		{UID: "moved", Name: "moved", Node: "r-0"},
		{UID: "there", Name: "there", Node: "r-0"},
		{UID: "flaky", Name: "flaky", Node: "r-0"},
	}
	if n := a.audit(context.Background(), a.due(refs)); n != 4 || phantoms != 4 {
		t.Fatalf("forgot %d (metric %d), want 4", n, phantoms)
	}
	slices.Sort(forgot)
	if want := []types.UID{"done", "gone", "moved", "old"}; !slices.Equal(forgot, want) {
		t.Errorf("forgot %v, want %v (not the pod still there, not the one that could not be read)", forgot, want)
	}
	// Each pod at most once per auditInterval.
	if due := a.due(refs); len(due) != 0 {
		t.Errorf("audited again at once: %v", due)
	}
	clk.Step(auditInterval)
	if due := a.due(refs); len(due) != len(refs) {
		t.Errorf("after %v: %d due, want %d", auditInterval, len(due), len(refs))
	}
}

func TestAuditStartRunsOneAtATime(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	calls := make(chan string, 8)
	read := func(_ context.Context, _, name string) (*v1.Pod, error) {
		calls <- name
		<-release
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
	}
	forgotten := make(chan types.UID, 8)
	a := newAuditor(read, testingclock.NewFakeClock(t0), logr.Discard(), func(uid types.UID) { forgotten <- uid }, nil)
	a.start(context.Background(), []podRef{{UID: "a", Name: "a"}})
	if got := <-calls; got != "a" {
		t.Fatalf("first audit read %q", got)
	}
	a.start(context.Background(), []podRef{{UID: "b", Name: "b"}}) // dropped: one is running
	close(release)
	if uid := <-forgotten; uid != "a" {
		t.Fatalf("forgot %q", uid)
	}
	if len(calls) != 0 {
		t.Errorf("a second audit ran concurrently (read %q)", <-calls)
	}
	// The dropped pod was not marked: the next rejection audits it.
	if due := a.due([]podRef{{UID: "b", Name: "b"}}); len(due) != 1 {
		t.Errorf("the pod of the dropped audit is not due: %v", due)
	}
}
