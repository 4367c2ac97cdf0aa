package certs

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	testingclock "k8s.io/utils/clock/testing"
)

// cluster is a fake API server for Manager tests.
type cluster struct {
	client *fake.Clientset
	clk    *testingclock.FakeClock
	opts   Options
}

var secretsGVR = corev1.SchemeGroupVersion.WithResource("secrets")

// newCluster returns a fake clientset holding objs, with Secrets under optimistic concurrency
// (the fake tracker otherwise ignores resourceVersion), and e2e options on a fake clock that
// starts at the real time (so TLS handshakes accept the certificates).
func newCluster(t *testing.T, objs ...runtime.Object) *cluster {
	t.Helper()
	c := &cluster{client: fake.NewClientset(objs...), clk: testingclock.NewFakeClock(time.Now().Truncate(time.Second))}
	c.opts = e2eOptions(c.clk)
	enforceSecretResourceVersions(c.client)
	return c
}

// enforceSecretResourceVersions makes creates stamp a resourceVersion and updates fail with a
// Conflict unless they carry the stored one, like the API server.
func enforceSecretResourceVersions(c *fake.Clientset) {
	var (
		mu   sync.Mutex
		next int64 = 100
	)
	stamp := func(s *corev1.Secret) {
		next++
		s.ResourceVersion = strconv.FormatInt(next, 10)
	}
	c.PrependReactor("create", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		sec := a.(clienttesting.CreateAction).GetObject().(*corev1.Secret).DeepCopy()
		stamp(sec)
		if err := c.Tracker().Create(secretsGVR, sec, sec.Namespace, metav1.CreateOptions{FieldManager: "test"}); err != nil {
			return true, nil, err
		}
		return true, sec, nil
	})
	c.PrependReactor("update", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		sec := a.(clienttesting.UpdateAction).GetObject().(*corev1.Secret).DeepCopy()
		cur, err := c.Tracker().Get(secretsGVR, sec.Namespace, sec.Name)
		if err != nil {
			return true, nil, err
		}
		if rv := cur.(*corev1.Secret).ResourceVersion; sec.ResourceVersion != rv {
			return true, nil, apierrors.NewConflict(secretsGVR.GroupResource(), sec.Name,
				errors.New("the object has been modified; please apply your changes to the latest version and try again"))
		}
		stamp(sec)
		if err := c.Tracker().Update(secretsGVR, sec, sec.Namespace, metav1.UpdateOptions{FieldManager: "test"}); err != nil {
			return true, nil, err
		}
		return true, sec, nil
	})
}

// manager builds a Manager on the cluster with its own registry.
func (c *cluster) manager(t *testing.T) (*Manager, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewManager(c.client, c.opts, testr.New(t), reg)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m, reg
}

// runInformers starts m's informers (not its loop) and waits for their caches; reconcile is
// then driven by the test. Everything stops before the test ends.
func runInformers(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); m.wait() })
	m.startInformers(ctx)
	var synced []cache.InformerSynced
	for _, inf := range m.informers() {
		synced = append(synced, inf.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		t.Fatal("caches did not sync")
	}
	m.synced.Store(true)
}

// start runs m.Start and stops it before the test ends.
func start(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); m.wait() })
	if err := m.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// eventually polls cond until it holds (10s bound against a hung test, not a timing assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func (c *cluster) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	s, err := c.client.CoreV1().Secrets(c.opts.Namespace).Get(context.Background(), c.opts.SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Secret: %v", err)
	}
	return s
}

// bundles returns the caBundle of every webhook in every configured configuration, by
// "<kind>/<config>/<webhook>".
func (c *cluster) bundles(t *testing.T) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	for _, n := range c.opts.MutatingWebhookConfigurations {
		cfg, err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get MutatingWebhookConfiguration %s: %v", n, err)
		}
		for _, w := range cfg.Webhooks {
			out["mutating/"+n+"/"+w.Name] = w.ClientConfig.CABundle
		}
	}
	for _, n := range c.opts.ValidatingWebhookConfigurations {
		cfg, err := c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get ValidatingWebhookConfiguration %s: %v", n, err)
		}
		for _, w := range cfg.Webhooks {
			out["validating/"+n+"/"+w.Name] = w.ClientConfig.CABundle
		}
	}
	return out
}

func countActions(c *fake.Clientset, verb, resource string) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			n++
		}
	}
	return n
}

var sideEffectsNone = admissionregistrationv1.SideEffectClassNone

func webhookClient() admissionregistrationv1.WebhookClientConfig {
	return admissionregistrationv1.WebhookClientConfig{
		Service: &admissionregistrationv1.ServiceReference{Namespace: "hdscale-system", Name: "hdscale-webhook"},
	}
}

// mutatingConfig is a MutatingWebhookConfiguration as the manifests ship it: two webhooks,
// empty caBundle.
func mutatingConfig(name string) *admissionregistrationv1.MutatingWebhookConfiguration {
	w := func(n string) admissionregistrationv1.MutatingWebhook {
		return admissionregistrationv1.MutatingWebhook{Name: n, ClientConfig: webhookClient(), SideEffects: &sideEffectsNone, AdmissionReviewVersions: []string{"v1"}}
	}
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-mutating-" + name)},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{w("pods.hdscale.io"), w("deployments.hdscale.io")},
	}
}

func validatingConfig(name string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	w := func(n string) admissionregistrationv1.ValidatingWebhook {
		return admissionregistrationv1.ValidatingWebhook{Name: n, ClientConfig: webhookClient(), SideEffects: &sideEffectsNone, AdmissionReviewVersions: []string{"v1"}}
	}
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-validating-" + name)},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{w("policies.hdscale.io"), w("annotations.hdscale.io")},
	}
}

// metricValue reads one counter or gauge sample from reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// once returns a function that reports true the first time only.
func once() func() bool {
	var done atomic.Bool
	return func() bool { return done.CompareAndSwap(false, true) }
}
