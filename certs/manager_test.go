package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func defaultConfigs() []runtime.Object {
	return []runtime.Object{mutatingConfig("hdscale"), validatingConfig("hdscale")}
}

// servedLeaf is the certificate m serves.
func servedLeaf(t *testing.T, m *Manager) *x509.Certificate {
	t.Helper()
	c, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "hdscale-webhook.hdscale-system.svc"})
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	return c.Leaf
}

// assertConsistent checks that the Secret is valid, m serves its certificate, every webhook's
// caBundle is the Secret's bundle and the served certificate verifies against it.
func assertConsistent(t *testing.T, c *cluster, m *Manager) {
	t.Helper()
	sec := c.secret(t)
	if err := checkOwnership(sec); err != nil {
		t.Fatalf("Secret not owned: %v", err)
	}
	st := decodeState(sec)
	if len(st.Problems) > 0 || st.CA == nil || st.Serving == nil {
		t.Fatalf("Secret invalid: %v", st.Problems)
	}
	leaf := servedLeaf(t, m)
	if !leaf.Equal(st.Serving.Cert) {
		t.Fatalf("serving serial %s, Secret holds %s", leaf.SerialNumber.Text(16), st.Serving.Cert.SerialNumber.Text(16))
	}
	for key, b := range c.bundles(t) {
		if !bytes.Equal(b, sec.Data[KeyCABundle]) {
			t.Errorf("%s caBundle differs from the Secret's ca.crt", key)
		}
		if err := verifyServing(leaf, b, "hdscale-webhook.hdscale-system.svc", c.clk.Now()); err != nil {
			t.Errorf("%s: served certificate does not verify: %v", key, err)
		}
	}
}

func TestNewManagerErrors(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	valid := e2eOptions(nil)
	shared := prometheus.NewRegistry()
	if _, err := NewManager(client, valid, logr.Discard(), shared); err != nil {
		t.Fatalf("first manager on a registry: %v", err)
	}
	tests := []struct {
		name   string
		client *fake.Clientset
		opts   Options
		reg    prometheus.Registerer
		want   string
	}{
		{name: "nil client", opts: valid, want: "nil client"},
		{name: "invalid options", client: client, opts: Options{Namespace: "ns"}, want: "ServiceName is required"},
		{name: "registry already used", client: client, opts: valid, reg: shared, want: "one Manager per registry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tc.client == nil {
				_, err = NewManager(nil, tc.opts, logr.Discard(), tc.reg)
			} else {
				_, err = NewManager(tc.client, tc.opts, logr.Discard(), tc.reg)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewManager = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestManagerBeforeStart(t *testing.T) {
	t.Parallel()
	c := newCluster(t, defaultConfigs()...)
	m, _ := c.manager(t)
	if _, err := m.GetCertificate(nil); err == nil {
		t.Error("GetCertificate before Start returned a certificate")
	}
	err := m.Ready()
	for _, want := range []string{"informer caches not synced", "Secret hdscale-system/hdscale-webhook-tls: not reconciled yet",
		`MutatingWebhookConfiguration "hdscale": not reconciled yet`, `ValidatingWebhookConfiguration "hdscale": not reconciled yet`, "no serving certificate loaded"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Ready() = %v, want it to mention %q", err, want)
		}
	}
}

func TestManagerCreatesSecretAndPublishesBundle(t *testing.T) {
	t.Parallel()
	c := newCluster(t, defaultConfigs()...)
	m, reg := c.manager(t)
	start(t, m)
	if err := m.Ready(); err != nil {
		t.Fatalf("Ready after Start: %v", err)
	}
	assertConsistent(t, c, m)
	sec := c.secret(t)
	if sec.Type != corev1.SecretTypeTLS || sec.Annotations[AnnotationPhase] != string(PhaseStable) {
		t.Errorf("Secret type %q phase %q", sec.Type, sec.Annotations[AnnotationPhase])
	}
	leaf := servedLeaf(t, m)
	if got := metricValue(t, reg, "hdscale_certs_certificate_not_after_seconds", map[string]string{"kind": "serving"}); got != float64(leaf.NotAfter.Unix()) {
		t.Errorf("serving not-after gauge %v, want %v", got, leaf.NotAfter.Unix())
	}
	if got := metricValue(t, reg, "hdscale_certs_certificate_not_after_seconds", map[string]string{"kind": "ca"}); got == 0 {
		t.Error("CA not-after gauge unset")
	}
	// Filling the manifests' empty caBundle is the first repair of each configuration.
	for _, typ := range []string{"mutating", "validating"} {
		if got := metricValue(t, reg, "hdscale_certs_cabundle_repairs_total", map[string]string{"type": typ, "name": "hdscale"}); got != 1 {
			t.Errorf("%s repairs = %v, want 1", typ, got)
		}
	}
	if got := metricValue(t, reg, "hdscale_certs_rotations_total", map[string]string{"kind": "serving"}); got != 0 {
		t.Errorf("initial issuance counted as %v rotations", got)
	}

	// A real TLS handshake against ServerTLSConfig(m.GetCertificate), trusting the caBundle.
	bundle := c.bundles(t)["validating/hdscale/policies.hdscale.io"]
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(bundle) {
		t.Fatal("caBundle holds no certificate")
	}
	client := &tls.Config{RootCAs: roots, ServerName: "hdscale-webhook.hdscale-system.svc", Time: c.clk.Now}
	if err := handshake(t, ServerTLSConfig(m.GetCertificate), client); err != nil {
		t.Fatalf("handshake: %v", err)
	}
}

func TestManagersConvergeOnOneSecret(t *testing.T) {
	t.Parallel()
	t.Run("replica with a stale cache adopts the Secret another created", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, defaultConfigs()...)
		first, _ := c.manager(t)
		runInformers(t, first)
		if _, err := first.reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		created := c.secret(t)

		// The second replica's Secret informer never ran: it believes there is no Secret,
		// creates one, gets AlreadyExists and must adopt the existing Secret unchanged. Its
		// configuration caches know the configurations (the owners of a Secret it makes).
		second, _ := c.manager(t)
		for _, obj := range defaultConfigs() {
			target := second.targets[0]
			if _, ok := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration); ok {
				target = second.targets[1]
			}
			if err := target.informer.GetIndexer().Add(obj); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := second.reconcile(context.Background()); err != nil {
			t.Fatalf("second replica: %v", err)
		}
		after := c.secret(t)
		if after.ResourceVersion != created.ResourceVersion || !bytes.Equal(after.Data[KeyServingCert], created.Data[KeyServingCert]) {
			t.Fatal("the second replica rewrote the Secret instead of adopting it")
		}
		if got := countActions(c.client, "create", "secrets"); got != 2 {
			t.Errorf("%d Secret creates, want 2 (one AlreadyExists)", got)
		}
		if !servedLeaf(t, first).Equal(servedLeaf(t, second)) {
			t.Fatal("replicas serve different certificates")
		}
		assertConsistent(t, c, second)
	})
	t.Run("replicas starting at once", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, defaultConfigs()...)
		var ms []*Manager
		for range 3 {
			m, _ := c.manager(t)
			ms = append(ms, m)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		t.Cleanup(func() {
			cancel()
			for _, m := range ms {
				m.wait()
			}
		})
		for _, m := range ms {
			wg.Go(func() {
				if err := m.Start(ctx); err != nil {
					t.Errorf("Start: %v", err)
				}
			})
		}
		wg.Wait()
		eventually(t, "every replica ready and serving the Secret's certificate", func() bool {
			want := decodeState(c.secret(t)).Serving.Cert
			for _, m := range ms {
				cert, err := m.GetCertificate(nil)
				if m.Ready() != nil || err != nil || !cert.Leaf.Equal(want) {
					return false
				}
			}
			return true
		})
		secrets, err := c.client.CoreV1().Secrets(c.opts.Namespace).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(secrets.Items) != 1 {
			t.Fatalf("%d Secrets (%v), want 1", len(secrets.Items), err)
		}
		for _, m := range ms {
			assertConsistent(t, c, m)
		}
	})
}

func TestSecretUpdateConflict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// otherReplica, when set, writes its own renewal just before this replica's update,
		// which then conflicts.
		otherReplica bool
		wantUpdates  int
	}{
		{name: "transient conflict is retried", wantUpdates: 2},
		{name: "another replica renewed first: adopt its certificate", otherReplica: true, wantUpdates: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, defaultConfigs()...)
			var (
				armed    = make(chan struct{})
				first    = once()
				otherKey []byte
			)
			c.client.PrependReactor("update", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
				select {
				case <-armed:
				default:
					return false, nil, nil
				}
				if !first() {
					return false, nil, nil
				}
				sec := a.(clienttesting.UpdateAction).GetObject().(*corev1.Secret)
				if tc.otherReplica {
					cur, err := c.client.Tracker().Get(secretsGVR, sec.Namespace, sec.Name)
					if err != nil {
						return true, nil, err
					}
					other := cur.(*corev1.Secret).DeepCopy()
					st := decodeState(other)
					next, err := apply(st, Action{Kind: ActionRenewServing, DNSNames: c.opts.DNSNames()}, c.clk.Now(), c.opts)
					if err != nil {
						return true, nil, err
					}
					other = encodeSecret(other, other.Namespace, other.Name, next, "other replica")
					other.ResourceVersion = "other-1"
					otherKey = next.Serving.CertPEM
					if err := c.client.Tracker().Update(secretsGVR, other, other.Namespace, metav1.UpdateOptions{FieldManager: "other"}); err != nil {
						return true, nil, err
					}
				}
				return true, nil, apierrors.NewConflict(secretsGVR.GroupResource(), sec.Name, errors.New("the object has been modified"))
			})
			m, reg := c.manager(t)
			runInformers(t, m)
			if _, err := m.reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			original := decodeState(c.secret(t)).Serving.Cert
			updatesBefore := countActions(c.client, "update", "secrets")

			c.clk.Step(80 * time.Second) // serving renewal due (2m validity, 1/3 window)
			close(armed)
			if _, err := m.reconcile(context.Background()); err != nil {
				t.Fatalf("reconcile after the conflict: %v", err)
			}
			if got := countActions(c.client, "update", "secrets") - updatesBefore; got != tc.wantUpdates {
				t.Errorf("%d Secret updates, want %d", got, tc.wantUpdates)
			}
			sec := c.secret(t)
			renewed := decodeState(sec).Serving.Cert
			if renewed.Equal(original) {
				t.Fatal("serving certificate not renewed")
			}
			if tc.otherReplica && !bytes.Equal(sec.Data[KeyServingCert], otherKey) {
				t.Error("the other replica's renewal was overwritten")
			}
			wantRotations := 1.0
			if tc.otherReplica {
				wantRotations = 0 // the other replica rotated, not this one
			}
			if got := metricValue(t, reg, "hdscale_certs_rotations_total", map[string]string{"kind": "serving"}); got != wantRotations {
				t.Errorf("serving rotations = %v, want %v", got, wantRotations)
			}
			assertConsistent(t, c, m)
		})
	}
}

func TestForeignSecretIsNotOverwritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret *corev1.Secret
		want   string
	}{
		{name: "unlabelled", want: "is not managed by hdscale (label app.kubernetes.io/managed-by=hdscale is missing",
			secret: &corev1.Secret{Data: map[string][]byte{"password": []byte("hunter2")}}},
		{name: "managed by Helm", want: `found "Helm"`,
			secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelManagedBy: "Helm"}}, Type: corev1.SecretTypeTLS}},
		{name: "newer hdscale format", want: "only understands",
			secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelManagedBy: ManagedByValue},
				Annotations: map[string]string{AnnotationFormat: "v9"}}, Type: corev1.SecretTypeTLS}},
		{name: "ours but of an unusable type", want: "cannot be changed",
			secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelManagedBy: ManagedByValue}}, Type: corev1.SecretTypeBasicAuth}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.secret.Namespace, tc.secret.Name = "hdscale-system", "hdscale-webhook-tls"
			c := newCluster(t, append(defaultConfigs(), tc.secret)...)
			m, reg := c.manager(t)
			start(t, m) // must not crash or block
			err := m.Ready()
			for _, want := range []string{tc.want, "Secret hdscale-system/hdscale-webhook-tls", "caBundle not checked: waiting for a valid Secret"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Ready() = %v, want it to mention %q", err, want)
				}
			}
			if _, err := m.reconcile(context.Background()); !errors.Is(err, ErrForeignSecret) {
				t.Errorf("reconcile = %v, want ErrForeignSecret", err)
			}
			for _, verb := range []string{"create", "update", "patch", "delete"} {
				if n := countActions(c.client, verb, "secrets"); n != 0 {
					t.Errorf("%d Secret %s calls, want none", n, verb)
				}
			}
			if got := c.secret(t); !bytes.Equal(got.Data["password"], tc.secret.Data["password"]) || got.Labels[LabelManagedBy] != tc.secret.Labels[LabelManagedBy] {
				t.Error("foreign Secret modified")
			}
			if _, err := m.GetCertificate(nil); err == nil {
				t.Error("serving a certificate from a foreign Secret")
			}
			for key, b := range c.bundles(t) {
				if len(b) != 0 {
					t.Errorf("%s caBundle set from a foreign Secret", key)
				}
			}
			if got := metricValue(t, reg, "hdscale_certs_errors_total", map[string]string{"operation": "secret"}); got == 0 {
				t.Error("Secret error not counted")
			}
		})
	}
}

func TestOwnSecretIsAdoptedOrRegenerated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		typ         corev1.SecretType
		data        map[string][]byte
		wantCorrupt float64
		wantReason  string
	}{
		{name: "corrupt material is regenerated", typ: corev1.SecretTypeTLS,
			data:        map[string][]byte{KeyCACert: []byte("garbage"), KeyServingCert: []byte("garbage")},
			wantCorrupt: 1, wantReason: "no usable CA in the Secret"},
		{name: "empty placeholder from a manifest is filled", typ: corev1.SecretTypeOpaque,
			wantReason: "no CA yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			own := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: "hdscale-system", Name: "hdscale-webhook-tls",
					Labels: map[string]string{LabelManagedBy: ManagedByValue}},
				Type: tc.typ,
				Data: tc.data,
			}
			c := newCluster(t, append(defaultConfigs(), own)...)
			m, reg := c.manager(t)
			start(t, m)
			if err := m.Ready(); err != nil {
				t.Fatalf("Ready: %v", err)
			}
			assertConsistent(t, c, m)
			if got := metricValue(t, reg, "hdscale_certs_errors_total", map[string]string{"operation": "corrupt"}); got != tc.wantCorrupt {
				t.Errorf("corrupt errors = %v, want %v", got, tc.wantCorrupt)
			}
			if got := c.secret(t).Annotations[AnnotationLastChange]; !strings.Contains(got, tc.wantReason) {
				t.Errorf("last-change annotation %q, want it to say %q", got, tc.wantReason)
			}
			if n := countActions(c.client, "create", "secrets"); n != 0 {
				t.Errorf("%d creates: the existing Secret must be updated in place", n)
			}
		})
	}
}

func TestCABundleRepair(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		breakIt  func(t *testing.T, c *cluster, wrong []byte)
		repaired map[string]float64 // repairs after the initial fill, by type
	}{
		{
			name: "re-applied mutating manifest empties every caBundle",
			breakIt: func(t *testing.T, c *cluster, _ []byte) {
				if _, err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(context.Background(), mutatingConfig("hdscale"), metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			repaired: map[string]float64{"mutating": 1, "validating": 0},
		},
		{
			name: "one validating webhook gets a wrong CA",
			breakIt: func(t *testing.T, c *cluster, wrong []byte) {
				ctx := context.Background()
				cfg, err := c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "hdscale", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Webhooks[1].ClientConfig.CABundle = wrong
				if _, err := c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			repaired: map[string]float64{"mutating": 0, "validating": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, defaultConfigs()...)
			m, reg := c.manager(t)
			runInformers(t, m)
			if _, err := m.reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			// First let every cache catch up with the initial fill: a
			// cache still holding the pre-fill configuration would look
			// "broken" before the break below is seen.
			eventually(t, "the informer caches to see the initial fill", func() bool {
				return m.bundleInCache(c.secret(t).Data[KeyCABundle])
			})
			wrong := encodeCertPEM(mustCA(t, c.clk.Now(), time.Hour).Cert.Raw)
			tc.breakIt(t, c, wrong)
			eventually(t, "the informer cache to see the broken caBundle", func() bool {
				return !m.bundleInCache(c.secret(t).Data[KeyCABundle])
			})
			if _, err := m.reconcile(context.Background()); err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			assertConsistent(t, c, m)
			if err := m.Ready(); err != nil {
				t.Fatalf("Ready after repair: %v", err)
			}
			for typ, want := range tc.repaired {
				if got := metricValue(t, reg, "hdscale_certs_cabundle_repairs_total", map[string]string{"type": typ, "name": "hdscale"}); got != 1+want {
					t.Errorf("%s repairs = %v, want %v (initial fill + %v)", typ, got, 1+want, want)
				}
			}
		})
	}
}

// TestStartRepairsCABundleFromWatch: with the loop running, emptying a caBundle is repaired from
// the watch event alone (the fake clock never advances, so no timer can do it).
func TestStartRepairsCABundleFromWatch(t *testing.T) {
	t.Parallel()
	c := newCluster(t, defaultConfigs()...)
	m, reg := c.manager(t)
	start(t, m)
	if _, err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(context.Background(), mutatingConfig("hdscale"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := c.secret(t).Data[KeyCABundle]
	eventually(t, "the emptied caBundle to be repaired", func() bool {
		for _, b := range c.bundles(t) {
			if !bytes.Equal(b, want) {
				return false
			}
		}
		return true
	})
	eventually(t, "the repair to be counted", func() bool {
		return metricValue(t, reg, "hdscale_certs_cabundle_repairs_total", map[string]string{"type": "mutating", "name": "hdscale"}) == 2
	})
	assertConsistent(t, c, m)
}

func TestMissingWebhookConfiguration(t *testing.T) {
	t.Parallel()
	c := newCluster(t, mutatingConfig("hdscale")) // the validating one is not applied yet
	m, _ := c.manager(t)
	start(t, m)
	err := m.Ready()
	if err == nil || !strings.Contains(err.Error(), `ValidatingWebhookConfiguration "hdscale" not found; waiting for it to be created`) {
		t.Fatalf("Ready() = %v, want a clear not-found error", err)
	}
	if strings.Contains(err.Error(), "MutatingWebhookConfiguration") {
		t.Errorf("Ready() = %v: the mutating configuration is fine", err)
	}
	if _, err := m.GetCertificate(nil); err != nil {
		t.Errorf("the Secret is fine, GetCertificate must work: %v", err)
	}

	if _, err := c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(context.Background(), validatingConfig("hdscale"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ready once the configuration appears", func() bool { return m.Ready() == nil })
	assertConsistent(t, c, m)
}

func TestForbiddenAccessIsReported(t *testing.T) {
	t.Parallel()
	forbidden := func(resource string) clienttesting.ReactionFunc {
		return func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: resource}, "hdscale",
				errors.New(`User "system:serviceaccount:hdscale-system:hdscale" cannot get resource`))
		}
	}
	t.Run("get of a webhook configuration", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, mutatingConfig("hdscale"))
		c.client.PrependReactor("get", "validatingwebhookconfigurations", forbidden("validatingwebhookconfigurations"))
		m, _ := c.manager(t)
		start(t, m)
		err := m.Ready()
		for _, want := range []string{`ValidatingWebhookConfiguration "hdscale": get forbidden`, "check RBAC", "validatingwebhookconfigurations"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Ready() = %v, want it to mention %q", err, want)
			}
		}
	})
	t.Run("list of Secrets: Start waits, Ready explains", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, defaultConfigs()...)
		c.client.PrependReactor("list", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(secretsGVR.GroupResource(), "", errors.New("cannot list resource"))
		})
		m, _ := c.manager(t)
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan error, 1)
		go func() { started <- m.Start(ctx) }()
		t.Cleanup(func() { cancel(); m.wait() })
		eventually(t, "Ready to report the forbidden list", func() bool {
			err := m.Ready()
			return err != nil && strings.Contains(err.Error(), "forbidden")
		})
		err := m.Ready()
		for _, want := range []string{"informer caches not synced", "watching Secret hdscale-system/hdscale-webhook-tls", "cannot list resource"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Ready() = %v, want it to mention %q", err, want)
			}
		}
		cancel()
		if err := <-started; err == nil || !strings.Contains(err.Error(), "stopped before the informer caches synced") {
			t.Errorf("Start = %v, want an error after cancellation", err)
		}
	})
}

// TestManagerRotatesThroughAllPhases drives a Manager on a fake clock through several serving
// renewals and two CA rotations, two seconds at a time, checking at every instant that the served
// certificate verifies against every webhook's caBundle as stored in the API.
func TestManagerRotatesThroughAllPhases(t *testing.T) {
	t.Parallel()
	c := newCluster(t, defaultConfigs()...)
	m, reg := c.manager(t)
	runInformers(t, m)
	ctx := context.Background()
	phases := map[string]bool{}
	const step = 2 * time.Second // PropagationDelay is 10s, Overlap 20s
	for elapsed := time.Duration(0); elapsed < 8*time.Minute; elapsed += step {
		if _, err := m.reconcile(ctx); err != nil {
			t.Fatalf("t+%v: reconcile: %v", elapsed, err)
		}
		if err := m.Ready(); err != nil {
			t.Fatalf("t+%v: not ready: %v", elapsed, err)
		}
		leaf := servedLeaf(t, m)
		for key, b := range c.bundles(t) {
			if err := verifyServing(leaf, b, "hdscale-webhook.hdscale-system.svc.cluster.local", c.clk.Now()); err != nil {
				t.Fatalf("t+%v: %s: served certificate does not verify: %v", elapsed, key, err)
			}
		}
		phases[c.secret(t).Annotations[AnnotationPhase]] = true
		c.clk.Step(step)
	}
	for _, p := range []Phase{PhaseStable, PhaseCAAdded, PhaseCASwitched} {
		if !phases[string(p)] {
			t.Errorf("phase %s never seen (saw %v)", p, phases)
		}
	}
	if got := metricValue(t, reg, "hdscale_certs_rotations_total", map[string]string{"kind": "ca"}); got < 2 {
		t.Errorf("CA rotations = %v, want >= 2 in 8 minutes of 5-minute CAs", got)
	}
	if got := metricValue(t, reg, "hdscale_certs_rotations_total", map[string]string{"kind": "serving"}); got < 4 {
		t.Errorf("serving rotations = %v, want >= 4", got)
	}
	if got := metricValue(t, reg, "hdscale_certs_cabundle_repairs_total", map[string]string{"type": "mutating", "name": "hdscale"}); got != 1 {
		t.Errorf("mutating repairs = %v, want only the initial fill: rotation updates are not repairs", got)
	}
}
