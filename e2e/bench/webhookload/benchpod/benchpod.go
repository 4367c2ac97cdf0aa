// Package benchpod builds the pods hdscale's webhook benchmarks admit: a
// webhook/testdata case as its controller submits it (ReadCasePod) and as
// kube-apiserver hands it to mutating webhooks (ServerSidePod).
package benchpod

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ReadCasePod reads a webhook/testdata case (a Pod, or a Deployment whose
// ReplicaSet creates the pod) and returns the pod the API server hands to
// mutating webhooks, in namespace ns.
func ReadCasePod(path, ns string) (*corev1.Pod, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(raw, &tm); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var pod corev1.Pod
	switch tm.Kind {
	case "Pod":
		if err := json.Unmarshal(raw, &pod); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case "Deployment":
		var d appsv1.Deployment
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		pod = PodFromDeployment(&d)
	default:
		return nil, fmt.Errorf("%s: kind %q, want Pod or Deployment", path, tm.Kind)
	}
	pod.Namespace = ns
	return &pod, nil
}

// PodFromDeployment is the pod a Deployment's ReplicaSet controller submits.
func PodFromDeployment(d *appsv1.Deployment) corev1.Pod {
	const hash = "7d9f8b6c5"
	t := d.Spec.Template
	labels := map[string]string{"pod-template-hash": hash}
	for k, v := range t.Labels {
		labels[k] = v
	}
	return corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: d.Name + "-" + hash + "-",
			Labels:       labels,
			Annotations:  t.Annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: d.Name + "-" + hash,
				UID: "9a1b7c3e-0000-4000-8000-00000000a11d", Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: *t.Spec.DeepCopy(),
	}
}

func ptr[T any](v T) *T { return &v }

// ServerSidePod returns the pod as a mutating webhook receives it from
// kube-apiserver on CREATE: after the API's defaulting, with the
// managedFields entry of the submitting controller, and after the built-in
// admission plugins that run before webhooks (ServiceAccount: the projected
// token volume and its mounts; DefaultTolerationSeconds: the not-ready and
// unreachable tolerations). Name and uid are not set yet at that point.
func ServerSidePod(in *corev1.Pod, manager string, now time.Time) (*corev1.Pod, error) {
	p := in.DeepCopy()
	// managedFields describe what the client sent, before defaulting.
	sent, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	fields, err := FieldsV1(sent)
	if err != nil {
		return nil, err
	}
	p.ManagedFields = []metav1.ManagedFieldsEntry{{
		Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
		Time: &metav1.Time{Time: now.UTC().Truncate(time.Second)}, FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: fields},
	}}

	s := &p.Spec
	setDefault(&s.RestartPolicy, corev1.RestartPolicyAlways)
	setDefault(&s.DNSPolicy, corev1.DNSClusterFirst)
	setDefault(&s.SchedulerName, corev1.DefaultSchedulerName)
	setDefault(&s.ServiceAccountName, "default")
	s.DeprecatedServiceAccount = s.ServiceAccountName
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = ptr(int64(30))
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	if s.EnableServiceLinks == nil {
		s.EnableServiceLinks = ptr(true)
	}
	if s.PreemptionPolicy == nil {
		s.PreemptionPolicy = ptr(corev1.PreemptLowerPriority)
	}
	if s.Priority == nil {
		s.Priority = ptr(int32(0))
	}
	const token = "kube-api-access-7xk2p"
	for i := range s.Volumes {
		if s.Volumes[i].ConfigMap != nil && s.Volumes[i].ConfigMap.DefaultMode == nil {
			s.Volumes[i].ConfigMap.DefaultMode = ptr(int32(0o644))
		}
		if s.Volumes[i].Secret != nil && s.Volumes[i].Secret.DefaultMode == nil {
			s.Volumes[i].Secret.DefaultMode = ptr(int32(0o644))
		}
	}
	s.Volumes = append(s.Volumes, corev1.Volume{Name: token, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr(int32(0o644)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr(int64(3607)), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}})
	for _, cs := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range cs {
			defaultContainer(&cs[i], token)
		}
	}
	for _, key := range []string{"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"} {
		s.Tolerations = append(s.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))})
	}
	return p, nil
}

func setDefault[T comparable](f *T, v T) {
	var zero T
	if *f == zero {
		*f = v
	}
}

func defaultContainer(c *corev1.Container, tokenVolume string) {
	setDefault(&c.TerminationMessagePath, corev1.TerminationMessagePathDefault)
	setDefault(&c.TerminationMessagePolicy, corev1.TerminationMessageReadFile)
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = corev1.PullIfNotPresent
		if tag := c.Image[strings.LastIndex(c.Image, "/")+1:]; !strings.Contains(tag, ":") || strings.HasSuffix(tag, ":latest") {
			c.ImagePullPolicy = corev1.PullAlways
		}
	}
	for i := range c.Ports {
		setDefault(&c.Ports[i].Protocol, corev1.ProtocolTCP)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p == nil {
			continue
		}
		setDefault(&p.TimeoutSeconds, 1)
		setDefault(&p.PeriodSeconds, 10)
		setDefault(&p.SuccessThreshold, 1)
		setDefault(&p.FailureThreshold, 3)
		if p.HTTPGet != nil {
			setDefault(&p.HTTPGet.Scheme, corev1.URISchemeHTTP)
		}
	}
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: tokenVolume, ReadOnly: true,
		MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"})
}

// FieldsV1 approximates the FieldsV1 set structured-merge-diff records for
// an object as sent (good enough for a realistic managedFields size): maps
// become "f:<key>" sets, lists keyed by name, mountPath or containerPort
// become "k:{...}" entries, other lists are atomic.
func FieldsV1(obj []byte) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, err
	}
	delete(m, "apiVersion")
	delete(m, "kind")
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		for _, k := range []string{"creationTimestamp", "managedFields", "name", "namespace", "uid", "resourceVersion"} {
			delete(md, k)
		}
	}
	return json.Marshal(fieldSet(m, false))
}

func fieldSet(m map[string]any, dot bool) map[string]any {
	out := map[string]any{}
	if dot {
		out["."] = map[string]any{}
	}
	for k, v := range m {
		out["f:"+k] = fieldChild(v)
	}
	return out
}

func fieldChild(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return fieldSet(t, true)
	case []any:
		out := map[string]any{}
		for _, e := range t {
			em, ok := e.(map[string]any)
			if !ok {
				return map[string]any{}
			}
			key := listKey(em)
			if key == "" {
				return map[string]any{}
			}
			out["k:"+key] = fieldSet(em, true)
		}
		return out
	default:
		return map[string]any{}
	}
}

func listKey(e map[string]any) string {
	var keys []string
	switch {
	case e["containerPort"] != nil:
		keys = []string{"containerPort", "protocol"}
	case e["mountPath"] != nil:
		keys = []string{"mountPath"}
	case e["name"] != nil:
		keys = []string{"name"}
	default:
		return ""
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		vj, _ := json.Marshal(e[k])
		if e[k] == nil {
			vj = []byte(`"TCP"`)
		}
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
	}
	b.WriteByte('}')
	return b.String()
}
