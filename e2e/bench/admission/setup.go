package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/hdscale/hdscale/internal/policy"
)

// Namespaces of the variants; the no-op webhooks' servers run in
// noopSystemNS (never in a namespace they mutate).
var variantNamespaces = map[string]string{
	"none":       "hdscale-bench-none",
	"map":        "hdscale-bench-map",
	"noop":       "hdscale-bench-noop",
	"noop-patch": "hdscale-bench-noop-patch",
	"hdscale":    "hdscale-bench-hdscale",
	"kyverno":    "hdscale-bench-kyverno",
	"gatekeeper": "hdscale-bench-gatekeeper",
}

const (
	noopSystemNS = "hdscale-bench-noop-system"
	noopName     = "bench-noop-webhook"
	// noopPatchName is the patching no-op webhook's Deployment, Service and
	// MutatingWebhookConfiguration (its Service DNS name must be in the
	// certificate of -noop-tls-dir, which both no-op webhooks share).
	noopPatchName = "bench-noop-patch-webhook"
	// noopPatchAnnotation is the annotation it adds (value "1").
	noopPatchAnnotation = "bench.hdscale.io/noop"
	mapName             = "hdscale-bench-map"
	benchLabel          = "app.kubernetes.io/part-of"
	benchValue          = "hdscale-bench-webhook"
	nameLabel           = "kubernetes.io/metadata.name"
)

// noopServer is one deployment of e2e/bench/noopwebhook: the plain one
// (variant noop) or the one answering with a one-operation patch (variant
// noop-patch). Everything else about the two is the same.
type noopServer struct {
	variant string   // whose namespace its webhook is scoped to
	name    string   // Deployment, Service, MutatingWebhookConfiguration; pod label app.kubernetes.io/name
	hook    string   // webhook name
	args    []string // beyond listen and TLS
}

var noopServers = []noopServer{
	{variant: "noop", name: noopName, hook: "noop.bench.hdscale.io"},
	{variant: "noop-patch", name: noopPatchName, hook: "noop-patch.bench.hdscale.io",
		args: []string{"-patch-annotation=" + noopPatchAnnotation + "=1"}},
}

// noopServerOf returns the no-op webhook server of variant v, if it has one.
func noopServerOf(v string) (noopServer, bool) {
	for _, n := range noopServers {
		if n.variant == v {
			return n, true
		}
	}
	return noopServer{}, false
}

// usesNoop says whether any of vs deploys a no-op webhook.
func usesNoop(vs []string) bool {
	for _, v := range vs {
		if _, ok := noopServerOf(v); ok {
			return true
		}
	}
	return false
}

// setup creates and removes what the benchmark needs.
type setup struct {
	// pod is the bench pod (its runtime containers size the MAP variant).
	pod    *corev1.Pod
	client kubernetes.Interface
	// dynamic writes the policy engines' custom resources (nil: no engine).
	dynamic dynamic.Interface
	opts    options
	// hdscaleHook is hdscale's pod webhook (settings the no-op copies).
	hdscaleHook *admissionregistrationv1.MutatingWebhook
	hdscaleDep  *appsv1.Deployment
	// admissionInventory lists every admission webhook and policy in the
	// cluster (what else a pod create may pass through).
	admissionInventory string
}

func benchMeta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{benchLabel: benchValue}}
}

func (s *setup) apply(ctx context.Context) error {
	if err := s.readHdscale(ctx); err != nil {
		return err
	}
	for _, v := range s.opts.variants {
		labels := map[string]string{}
		if v == "hdscale" {
			labels = benchNamespaceLabels
		}
		if err := s.ensureNamespace(ctx, variantNamespaces[v], labels); err != nil {
			return err
		}
	}
	if usesNoop(s.opts.variants) {
		if err := s.ensureNamespace(ctx, noopSystemNS, nil); err != nil {
			return err
		}
	}
	if has(s.opts.variants, "map") || usesEngine(s.opts.variants) {
		if err := computeMapSizing(ctx, s.client, benchNamespaceLabels, s.pod); err != nil {
			return err
		}
	}
	if usesEngine(s.opts.variants) {
		if err := s.applyEngines(ctx); err != nil {
			return err
		}
	}
	if has(s.opts.variants, "map") {
		if err := s.applyPolicy(ctx); err != nil {
			return err
		}
	}
	if usesNoop(s.opts.variants) {
		if err := s.applyNoop(ctx); err != nil {
			return err
		}
	}
	for _, v := range s.opts.variants {
		if err := s.waitServiceAccount(ctx, variantNamespaces[v]); err != nil {
			return err
		}
	}
	inv, err := s.inventory(ctx)
	if err != nil {
		return err
	}
	s.admissionInventory = inv
	return nil
}

// readHdscale loads hdscale's webhook configuration and Deployment; both
// must be there (and ready) when the hdscale variant or a no-op webhook
// (which copies hdscale's settings) runs.
func (s *setup) readHdscale(ctx context.Context) error {
	need := has(s.opts.variants, "hdscale") || usesNoop(s.opts.variants) || usesEngine(s.opts.variants)
	mwc, err := s.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, s.opts.hdscaleName, metav1.GetOptions{})
	if err != nil {
		if need {
			return fmt.Errorf("hdscale's MutatingWebhookConfiguration %q (is hdscale deployed? make deploy): %w", s.opts.hdscaleName, err)
		}
		return nil
	}
	for i := range mwc.Webhooks {
		w := &mwc.Webhooks[i]
		if w.ClientConfig.Service != nil && w.ClientConfig.Service.Path != nil && *w.ClientConfig.Service.Path == "/mutate" &&
			(w.FailurePolicy == nil || *w.FailurePolicy == admissionregistrationv1.Fail) { // the enforce-mode entry
			s.hdscaleHook = w
		}
	}
	if s.hdscaleHook == nil {
		return fmt.Errorf("MutatingWebhookConfiguration %s has no webhook calling /mutate", mwc.Name)
	}
	if len(s.hdscaleHook.ClientConfig.CABundle) == 0 {
		return fmt.Errorf("hdscale's webhook %s has no caBundle yet (not ready)", s.hdscaleHook.Name)
	}
	dep, err := s.client.AppsV1().Deployments(s.opts.hdscaleNS).Get(ctx, s.opts.hdscaleName+"-webhook", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("hdscale's webhook Deployment: %w", err)
	}
	if dep.Status.ReadyReplicas < 1 {
		return fmt.Errorf("hdscale's webhook Deployment has no ready replica")
	}
	s.hdscaleDep = dep
	return nil
}

// ensureNamespace creates ns with labels (plus the bench label), waiting
// out a previous run's namespace that is still terminating.
func (s *setup) ensureNamespace(ctx context.Context, name string, labels map[string]string) error {
	want := map[string]string{benchLabel: benchValue}
	for k, v := range labels {
		want[k] = v
	}
	return wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		ns, err := s.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = s.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: want}}, metav1.CreateOptions{})
			return err == nil, ignoreConflict(err)
		case err != nil:
			return false, err
		case ns.DeletionTimestamp != nil:
			return false, nil // still terminating
		}
		changed := false
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		for k, v := range want {
			if ns.Labels[k] != v {
				ns.Labels[k], changed = v, true
			}
		}
		for k := range ns.Labels {
			if strings.HasPrefix(k, policy.Prefix) && want[k] == "" {
				delete(ns.Labels, k)
				changed = true
			}
		}
		if changed {
			_, err = s.client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
			return err == nil, ignoreConflict(err)
		}
		return true, nil
	})
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (s *setup) waitServiceAccount(ctx context.Context, ns string) error {
	return wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := s.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}

// applyPolicy installs the MutatingAdmissionPolicy equivalent of hdscale's
// per-core mutation of runtime pods, bound to the map namespace.
func (s *setup) applyPolicy(ctx context.Context) error {
	if err := s.requireMAPAPI(); err != nil {
		return err
	}
	fail := admissionregistrationv1.Fail
	equivalent := admissionregistrationv1.Equivalent
	p := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: benchMeta(mapName, ""),
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{
				MatchPolicy: &equivalent,
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}}},
			},
			MatchConditions:    s.matchConditions(),
			Variables:          mapVariables(),
			Mutations:          []admissionregistrationv1.Mutation{{PatchType: admissionregistrationv1.PatchTypeJSONPatch, JSONPatch: &admissionregistrationv1.JSONPatch{Expression: mapPatchExpression}}},
			FailurePolicy:      &fail,
			ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
		},
	}
	b := &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: benchMeta(mapName, ""),
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName: mapName,
			MatchResources: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{nameLabel: variantNamespaces["map"]}},
			},
		},
	}
	api := s.client.AdmissionregistrationV1()
	if err := upsert(ctx, p, api.MutatingAdmissionPolicies().Get, api.MutatingAdmissionPolicies().Create, api.MutatingAdmissionPolicies().Update); err != nil {
		return fmt.Errorf("MutatingAdmissionPolicy: %w", err)
	}
	if err := upsert(ctx, b, api.MutatingAdmissionPolicyBindings().Get, api.MutatingAdmissionPolicyBindings().Create, api.MutatingAdmissionPolicyBindings().Update); err != nil {
		return fmt.Errorf("MutatingAdmissionPolicyBinding: %w", err)
	}
	return nil
}

func (s *setup) requireMAPAPI() error {
	rl, err := s.client.Discovery().ServerResourcesForGroupVersion("admissionregistration.k8s.io/v1")
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	for _, r := range rl.APIResources {
		if r.Name == "mutatingadmissionpolicies" {
			return nil
		}
	}
	return fmt.Errorf("admissionregistration.k8s.io/v1 mutatingadmissionpolicies is not served by this API server")
}

// matchConditions are hdscale's (so every variant filters alike); built-in
// equivalents when hdscale is not installed.
func (s *setup) matchConditions() []admissionregistrationv1.MatchCondition {
	if s.hdscaleHook != nil && len(s.hdscaleHook.MatchConditions) > 0 {
		return append([]admissionregistrationv1.MatchCondition(nil), s.hdscaleHook.MatchConditions...)
	}
	return []admissionregistrationv1.MatchCondition{{Name: "runtime-candidate", Expression: "has(object.spec.containers) && object.spec.containers.exists(c, has(c.image) && c.image.contains('designer-runtime'))"}}
}

// upsert creates obj or replaces an existing object of the same name.
func upsert[T interface {
	*O
	metav1.Object
}, O any](ctx context.Context, obj T,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	update func(context.Context, T, metav1.UpdateOptions) (T, error)) error {
	cur, err := get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = create(ctx, obj, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	obj.SetResourceVersion(cur.GetResourceVersion())
	_, err = update(ctx, obj, metav1.UpdateOptions{})
	return err
}

// applyNoop deploys the no-op webhooks of the selected variants like
// hdscale's: same replicas, resources, placement and priority; same webhook
// settings and match conditions; each scoped to its variant's namespace.
// They share one TLS Secret (-noop-tls-dir) and differ only in the patch
// they answer with.
func (s *setup) applyNoop(ctx context.Context) error {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(s.opts.noopTLSDir, name)) }
	ca, err := read("ca.crt")
	if err != nil {
		return err
	}
	crt, err := read("tls.crt")
	if err != nil {
		return err
	}
	key, err := read("tls.key")
	if err != nil {
		return err
	}
	var servers []noopServer
	for _, n := range noopServers {
		if has(s.opts.variants, n.variant) {
			servers = append(servers, n)
		}
	}
	for _, n := range servers {
		if err := certCovers(crt, serviceHost(n.name)); err != nil {
			return fmt.Errorf("-noop-tls-dir %s, variant %s: %w (noopwebhook gencert -hosts %s,...)", s.opts.noopTLSDir, n.variant, err, serviceHost(n.name))
		}
	}
	secret := &corev1.Secret{ObjectMeta: benchMeta(noopName+"-tls", noopSystemNS), Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}}
	core := s.client.CoreV1()
	if err := upsert(ctx, secret, core.Secrets(noopSystemNS).Get, core.Secrets(noopSystemNS).Create, core.Secrets(noopSystemNS).Update); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	apps := s.client.AppsV1()
	for _, n := range servers {
		labels := map[string]string{"app.kubernetes.io/name": n.name}
		svc := &corev1.Service{ObjectMeta: benchMeta(n.name, noopSystemNS), Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromString("https"), Protocol: corev1.ProtocolTCP}},
		}}
		if cur, err := core.Services(noopSystemNS).Get(ctx, n.name, metav1.GetOptions{}); err == nil {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = cur.Spec.ClusterIP, cur.Spec.ClusterIPs
		}
		if err := upsert(ctx, svc, core.Services(noopSystemNS).Get, core.Services(noopSystemNS).Create, core.Services(noopSystemNS).Update); err != nil {
			return fmt.Errorf("service %s: %w", n.name, err)
		}
		dep := s.noopDeployment(n, labels)
		if err := upsert(ctx, dep, apps.Deployments(noopSystemNS).Get, apps.Deployments(noopSystemNS).Create, apps.Deployments(noopSystemNS).Update); err != nil {
			return fmt.Errorf("deployment %s: %w", n.name, err)
		}
	}
	for _, n := range servers {
		if err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			d, err := apps.Deployments(noopSystemNS).Get(ctx, n.name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == *d.Spec.Replicas &&
				d.Status.ReadyReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas, nil
		}); err != nil {
			return fmt.Errorf("the no-op webhook's Deployment %s did not become ready (image %s loaded? kubectl -n %s describe pods): %w", n.name, s.opts.noopImage, noopSystemNS, err)
		}
	}
	api := s.client.AdmissionregistrationV1()
	for _, n := range servers {
		mwc := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: benchMeta(n.name, ""),
			Webhooks: []admissionregistrationv1.MutatingWebhook{s.noopWebhook(n, ca)}}
		if err := upsert(ctx, mwc, api.MutatingWebhookConfigurations().Get, api.MutatingWebhookConfigurations().Create, api.MutatingWebhookConfigurations().Update); err != nil {
			return fmt.Errorf("MutatingWebhookConfiguration %s: %w", n.name, err)
		}
	}
	return nil
}

// serviceHost is the DNS name the API server verifies a no-op webhook's
// serving certificate against (service reference: <name>.<namespace>.svc).
func serviceHost(name string) string { return name + "." + noopSystemNS + ".svc" }

// certCovers checks that the first certificate of certPEM is valid for host.
func certCovers(certPEM []byte, host string) error {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return errors.New("tls.crt holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("tls.crt: %w", err)
	}
	if err := cert.VerifyHostname(host); err != nil {
		return fmt.Errorf("tls.crt: %w", err)
	}
	return nil
}

func (s *setup) noopWebhook(n noopServer, ca []byte) admissionregistrationv1.MutatingWebhook {
	path := "/mutate"
	port := int32(443)
	fail := admissionregistrationv1.Fail
	equivalent := admissionregistrationv1.Equivalent
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	w := admissionregistrationv1.MutatingWebhook{
		Name:                    n.hook,
		AdmissionReviewVersions: []string{"v1"},
		SideEffects:             &none,
		TimeoutSeconds:          &timeout,
		FailurePolicy:           &fail,
		MatchPolicy:             &equivalent,
		ReinvocationPolicy:      &ifNeeded,
		MatchConditions:         s.matchConditions(),
	}
	if h := s.hdscaleHook; h != nil {
		w.AdmissionReviewVersions, w.SideEffects, w.TimeoutSeconds = h.AdmissionReviewVersions, h.SideEffects, h.TimeoutSeconds
		w.FailurePolicy, w.MatchPolicy, w.ReinvocationPolicy = h.FailurePolicy, h.MatchPolicy, h.ReinvocationPolicy
	}
	w.ClientConfig = admissionregistrationv1.WebhookClientConfig{CABundle: ca,
		Service: &admissionregistrationv1.ServiceReference{Namespace: noopSystemNS, Name: n.name, Path: &path, Port: &port}}
	w.Rules = []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
	w.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{nameLabel: variantNamespaces[n.variant]}}
	return w
}

func (s *setup) noopDeployment(n noopServer, labels map[string]string) *appsv1.Deployment {
	replicas := int32(2)
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	var tmpl corev1.PodSpec
	if d := s.hdscaleDep; d != nil {
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		src := d.Spec.Template.Spec
		tmpl.NodeSelector, tmpl.Tolerations, tmpl.Affinity, tmpl.PriorityClassName = src.NodeSelector, src.Tolerations, src.Affinity, src.PriorityClassName
		for _, c := range src.Containers {
			if c.Name == "webhook" || len(src.Containers) == 1 {
				res = *c.Resources.DeepCopy()
			}
		}
	}
	no, yes := false, true
	tmpl.EnableServiceLinks = &no
	tmpl.AutomountServiceAccountToken = &no
	tmpl.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: ptr(int64(65532)), RunAsGroup: ptr(int64(65532)),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	tmpl.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
		WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}}
	tmpl.Containers = []corev1.Container{{
		Name: "noop", Image: s.opts.noopImage, ImagePullPolicy: corev1.PullIfNotPresent,
		Args:  append([]string{"-listen=:8443", "-tls-cert-file=/tls/tls.crt", "-tls-key-file=/tls/tls.key"}, n.args...),
		Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: 8443, Protocol: corev1.ProtocolTCP}},
		Env: []corev1.EnvVar{{Name: "GOMEMLIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
			Resource: "limits.memory"}}}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz",
			Port: intstr.FromString("https"), Scheme: corev1.URISchemeHTTPS}}, PeriodSeconds: 5},
		Resources: res,
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		VolumeMounts: []corev1.VolumeMount{{Name: "tls", MountPath: "/tls", ReadOnly: true}},
	}}
	if _, ok := res.Limits[corev1.ResourceMemory]; !ok {
		tmpl.Containers[0].Env = nil
	}
	tmpl.Volumes = []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: noopName + "-tls"}}}}
	return &appsv1.Deployment{
		ObjectMeta: benchMeta(n.name, noopSystemNS),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: tmpl},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// inventory names every admission webhook and policy in the cluster.
func (s *setup) inventory(ctx context.Context) (string, error) {
	api := s.client.AdmissionregistrationV1()
	var parts []string
	mw, err := api.MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, c := range mw.Items {
		parts = append(parts, "MutatingWebhookConfiguration/"+c.Name)
	}
	vw, err := api.ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, c := range vw.Items {
		parts = append(parts, "ValidatingWebhookConfiguration/"+c.Name)
	}
	if maps, err := api.MutatingAdmissionPolicies().List(ctx, metav1.ListOptions{}); err == nil {
		for _, c := range maps.Items {
			parts = append(parts, "MutatingAdmissionPolicy/"+c.Name)
		}
	}
	vaps, err := api.ValidatingAdmissionPolicies().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, c := range vaps.Items {
		parts = append(parts, "ValidatingAdmissionPolicy/"+c.Name)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", "), nil
}

// teardown removes the benchmark's objects (namespaces are deleted in the
// background).
func (s *setup) teardown(ctx context.Context) error {
	api := s.client.AdmissionregistrationV1()
	var errs []string
	note := func(what string, err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Sprintf("%s: %v", what, err))
		}
	}
	for _, n := range noopServers {
		note("webhook configuration "+n.name, api.MutatingWebhookConfigurations().Delete(ctx, n.name, metav1.DeleteOptions{}))
	}
	s.teardownEngines(ctx, note)
	note("policy binding", api.MutatingAdmissionPolicyBindings().Delete(ctx, mapName, metav1.DeleteOptions{}))
	note("policy", api.MutatingAdmissionPolicies().Delete(ctx, mapName, metav1.DeleteOptions{}))
	for _, ns := range append([]string{noopSystemNS}, sortedValues(variantNamespaces)...) {
		note("namespace "+ns, s.client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
