// Package manifests holds the kustomize base; its tests check properties
// across files that no single object can check.
package manifests

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// decodeAll decodes every document of a multi-document YAML file into a
// fresh T, keeping those whose kind is kind.
func decodeAll[T any](t *testing.T, path, kind string) []T {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil || meta.Kind != kind {
			continue
		}
		var v T
		if err := yaml.UnmarshalStrict(doc, &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
}

// TestNetworkPoliciesAllowExactlyTheDeclaredPorts: every port a container
// declares is allowed in by its component's policy, and nothing else is;
// each private --metrics-listen and --health-listen port is declared.
func TestNetworkPoliciesAllowExactlyTheDeclaredPorts(t *testing.T) {
	t.Parallel()
	policies := map[string]networkingv1.NetworkPolicy{}
	for _, np := range decodeAll[networkingv1.NetworkPolicy](t, "networkpolicy.yaml", "NetworkPolicy") {
		policies[np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"]] = np
	}
	for _, path := range []string{"webhook/deployment.yaml", "scheduler/deployment.yaml"} {
		for _, d := range decodeAll[appsv1.Deployment](t, path, "Deployment") {
			component := d.Spec.Template.Labels["app.kubernetes.io/component"]
			np, ok := policies[component]
			if !ok {
				t.Errorf("%s: no NetworkPolicy selects component %q", path, component)
				continue
			}
			for k, v := range np.Spec.PodSelector.MatchLabels {
				if d.Spec.Template.Labels[k] != v {
					t.Errorf("policy %s selects %s=%s, the pods of %s do not carry it", np.Name, k, v, path)
				}
			}
			var declared, allowed []int32
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, p := range c.Ports {
					declared = append(declared, p.ContainerPort)
				}
				for _, a := range c.Command {
					for _, flag := range []string{"--metrics-listen=", "--health-listen=", "--secure-port="} {
						if port, ok := strings.CutPrefix(a, flag); ok && !hasPort(c.Ports, strings.TrimPrefix(port, ":")) {
							t.Errorf("%s: container %s listens on %s but declares no such containerPort", path, c.Name, a)
						}
					}
				}
			}
			for _, rule := range np.Spec.Ingress {
				if len(rule.From) != 0 {
					t.Errorf("policy %s: a rule with sources; the sources differ per cluster (see the file's comment)", np.Name)
				}
				for _, p := range rule.Ports {
					allowed = append(allowed, p.Port.IntVal)
				}
			}
			slices.Sort(declared)
			slices.Sort(allowed)
			if !slices.Equal(declared, allowed) {
				t.Errorf("policy %s allows ports %v, the pods of %s declare %v", np.Name, allowed, path, declared)
			}
			if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || len(np.Spec.Egress) != 1 {
				t.Errorf("policy %s: egress must be limited to the API server", np.Name)
			}
		}
	}
}

func hasPort(ports []corev1.ContainerPort, port string) bool {
	return slices.ContainsFunc(ports, func(p corev1.ContainerPort) bool { return strconv.Itoa(int(p.ContainerPort)) == port })
}
