//go:build e2e

package e2e

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/hdscale/hdscale/internal/policy"
)

// burner is a fake runtime pinned to one node (nodeName, so no scheduler is
// involved) that the test keeps busy with back-to-back executions through
// the pod proxy: its node's CPU usage rises by about `workers` cores.
type burner struct {
	ns, pod, node string
	workers       int
	cancel        context.CancelFunc
	wg            sync.WaitGroup
	done          atomic.Int64 // executions completed
	failed        atomic.Int64
	lastErr       atomic.Value
}

// startBurner creates the burner pod in ns on node, waits until it is ready
// and starts `workers` loops of cpuMS executions. Stop it with stop (also
// registered as a cleanup).
func startBurner(t *testing.T, ns, node string, workers, cpuMS int) *burner {
	t.Helper()
	tmpl := podTemplate("burner", suite.images.FakeRuntime, nil, envVar("WEB_CONCURRENCY", itoa(workers)))
	pod := podFrom(ns, "burner", tmpl)
	pod.Spec.NodeName = node
	pod.Spec.Tolerations = []corev1.Toleration{{Key: policy.NodePoolKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	ctx, cancel := callContext(t)
	defer cancel()
	if _, err := suite.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating burner pod on %s: %v", node, err)
	}
	waitFor(t, 2*time.Minute, "burner pod ready on "+node, func(ctx context.Context) (bool, string, error) {
		p, err := getPod(ctx, ns, pod.Name)
		if err != nil {
			return false, "", err
		}
		return podReady(p), podStates([]corev1.Pod{*p}), nil
	})
	bctx, bcancel := context.WithCancel(context.Background())
	b := &burner{ns: ns, pod: pod.Name, node: node, workers: workers, cancel: bcancel}
	for i := 0; i < workers; i++ {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for bctx.Err() == nil {
				rctx, rcancel := context.WithTimeout(bctx, time.Duration(cpuMS)*time.Millisecond+time.Minute)
				err := burn(rctx, ns, pod.Name, cpuMS)
				rcancel()
				switch {
				case err == nil:
					b.done.Add(1)
				case bctx.Err() != nil:
				default:
					b.failed.Add(1)
					b.lastErr.Store(err.Error())
					// Do not spin on a failing proxy: wait until the
					// runtime answers again.
					_ = wait.PollUntilContextCancel(bctx, time.Second, false, func(ctx context.Context) (bool, error) {
						_, err := proxyGet(ctx, ns, pod.Name, runtimePort, "/engine/info", nil)
						return err == nil, nil
					})
				}
			}
		}()
	}
	t.Cleanup(b.stop)
	return b
}

// stop ends the load loops and waits for them (the running executions are
// abandoned with their requests).
func (b *burner) stop() {
	b.cancel()
	b.wg.Wait()
}

func (b *burner) status() string {
	s := itoa(int(b.done.Load())) + " executions done, " + itoa(int(b.failed.Load())) + " failed"
	if v, ok := b.lastErr.Load().(string); ok {
		s += " (last error: " + v + ")"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
