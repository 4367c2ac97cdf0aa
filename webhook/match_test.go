package webhook

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func container(name, image string, env ...corev1.EnvVar) corev1.Container {
	return corev1.Container{Name: name, Image: image, Env: env}
}

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func TestMatch(t *testing.T) {
	t.Parallel()
	runtimeLabels := map[string]string{"app.kubernetes.io/name": "hetida-designer", "app.kubernetes.io/component": "runtime"}
	fromField := corev1.EnvVar{Name: EnvIsBackendService, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}
	tests := []struct {
		name       string
		labels     map[string]string
		containers []corev1.Container
		initCs     []corev1.Container
		want       Match
	}{
		{name: "image", containers: []corev1.Container{container("r", "hetida/designer-runtime:0.9.7")},
			want: Match{Runtime: true, By: MatchedByContainer, Containers: []int{0}}},
		{name: "image with registry port and digest", containers: []corev1.Container{
			container("proxy", "envoyproxy/envoy:v1.31.0"),
			container("r", "localhost:5000/hetida/designer-runtime@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945")},
			want: Match{Runtime: true, By: MatchedByContainer, Containers: []int{1}}},
		{name: "env HD_IS_BACKEND_SERVICE=false", containers: []corev1.Container{container("r", "acme/custom:1", env(EnvIsBackendService, "false"))},
			want: Match{Runtime: true, By: MatchedByContainer, Containers: []int{0}}},
		{name: "env value as pydantic reads it", containers: []corev1.Container{container("r", "acme/custom:1", env(EnvIsBackendService, " Off "))},
			want: Match{Runtime: true, By: MatchedByContainer, Containers: []int{0}}},
		{name: "env true is no runtime", containers: []corev1.Container{container("r", "acme/custom:1", env(EnvIsBackendService, "true"))}},
		{name: "env from valueFrom does not match", containers: []corev1.Container{container("r", "acme/custom:1", fromField)}},
		{name: "backend image", containers: []corev1.Container{container("b", "hetida/designer-backend:0.9.7", env(EnvIsRuntimeService, "false"))}},
		{name: "backend env excludes a runtime image", containers: []corev1.Container{container("b", "hetida/designer-runtime:0.9.7", env(EnvIsRuntimeService, "false"))}},
		{name: "backend image excludes runtime env", containers: []corev1.Container{container("b", "hetida/designer-backend", env(EnvIsBackendService, "false"))}},
		{name: "similar image name", containers: []corev1.Container{container("r", "hetida/designer-runtime-custom:1")}},
		{name: "init container never", initCs: []corev1.Container{container("i", "hetida/designer-runtime")}, containers: []corev1.Container{container("c", "busybox")}},
		{name: "labels only: first container", labels: runtimeLabels,
			containers: []corev1.Container{container("r", "acme/custom:1"), container("proxy", "envoyproxy/envoy")},
			want:       Match{Runtime: true, By: MatchedByLabels, Containers: []int{0}}},
		{name: "labels only: first non-backend container", labels: runtimeLabels,
			containers: []corev1.Container{container("b", "hetida/designer-backend"), container("r", "acme/custom:1")},
			want:       Match{Runtime: true, By: MatchedByLabels, Containers: []int{1}}},
		{name: "labels and image: the image rule picks", labels: runtimeLabels,
			containers: []corev1.Container{container("proxy", "envoyproxy/envoy"), container("r", "hetida/designer-runtime")},
			want:       Match{Runtime: true, By: MatchedByContainer, Containers: []int{1}}},
		{name: "partial labels", labels: map[string]string{"app.kubernetes.io/component": "runtime"},
			containers: []corev1.Container{container("r", "acme/custom:1")}},
		{name: "two runtime containers", containers: []corev1.Container{container("a", "hetida/designer-runtime"), container("b", "hetida/designer-runtime:1")},
			want: Match{Runtime: true, By: MatchedByContainer, Containers: []int{0, 1}}},
	}
	m := NewMatcher(DefaultConfig())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: tt.labels}, Spec: corev1.PodSpec{Containers: tt.containers, InitContainers: tt.initCs}}
			if got := m.Match(pod); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Match = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMatchCustomConfig(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte(`
runtime:
  images: [acme/designer-runtime-xgboost]
  env: []
podLabels: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(cfg)
	pod := func(labels map[string]string, cs ...corev1.Container) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: cs}}
	}
	if got := m.Match(pod(nil, container("r", "localhost:5000/acme/designer-runtime-xgboost:1.4"))); !got.Runtime {
		t.Error("configured image not matched")
	}
	if got := m.Match(pod(nil, container("r", "hetida/designer-runtime"))); got.Runtime {
		t.Error("default image still matched after runtime.images was replaced")
	}
	if got := m.Match(pod(nil, container("r", "acme/x", env(EnvIsBackendService, "false")))); got.Runtime {
		t.Error("env rule matched although runtime.env is empty")
	}
	if got := m.Match(pod(map[string]string{"app.kubernetes.io/name": "hetida-designer", "app.kubernetes.io/component": "runtime"}, container("r", "acme/x"))); got.Runtime {
		t.Error("labels matched although podLabels is empty")
	}
	if got := m.Match(pod(nil, container("r", "acme/designer-runtime-xgboost", env(EnvIsRuntimeService, "no")))); got.Runtime {
		t.Error("default notRuntime env rule not applied")
	}
}
