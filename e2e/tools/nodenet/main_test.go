package main

import "testing"

func TestParseKubeconfig(t *testing.T) {
	t.Parallel()
	raw := []byte(`apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://hdscale-control-plane:6443
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: system:node:hdscale-worker
  name: system:node:hdscale-worker@kubernetes
current-context: system:node:hdscale-worker@kubernetes
kind: Config
users:
- name: default-auth
  user:
    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem
    client-key: "/var/lib/kubelet/pki/kubelet-client-current.pem"
`)
	kv := parseKubeconfig(raw)
	for k, want := range map[string]string{
		"server":                     "https://hdscale-control-plane:6443",
		"certificate-authority-data": "Q0E=",
		"client-certificate":         "/var/lib/kubelet/pki/kubelet-client-current.pem",
		"client-key":                 "/var/lib/kubelet/pki/kubelet-client-current.pem",
	} {
		if got := kv[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestPodCIDRAndInternalIP(t *testing.T) {
	t.Parallel()
	var n nodeObj
	n.Spec.PodCIDRs = []string{"fd00::/64", "10.244.2.0/24"}
	n.Status.Addresses = append(n.Status.Addresses,
		struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		}{"Hostname", "hdscale-worker2"},
		struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		}{"InternalIP", "172.18.0.4"})
	if got := ipv4CIDR(n); got != "10.244.2.0/24" {
		t.Errorf("ipv4CIDR = %q", got)
	}
	if got := internalIPv4(n); got != "172.18.0.4" {
		t.Errorf("internalIPv4 = %q", got)
	}
}
