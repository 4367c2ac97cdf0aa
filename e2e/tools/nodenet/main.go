// Command nodenet is the pod network of the offline kind node image, a small
// stand-in for kindnetd (which cannot be had without a registry). It runs as a
// systemd unit inside every node and, using the kubelet's own credentials:
//
//   - writes a ptp + host-local CNI conflist for the node's podCIDR, which
//     makes the node Ready;
//   - routes every other node's podCIDR via that node's InternalIP (routes are
//     tagged with a private route protocol so stale ones are removed);
//   - masquerades pod traffic leaving the cluster CIDR.
//
// Listing other nodes needs RBAC for group system:nodes (list/watch nodes),
// shipped as /kind/manifests/default-cni.yaml. NetworkPolicy is not enforced.
// IPv4 only.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// routeProto tags the routes this program owns (any value unused by the
// kernel and iproute2's named protocols).
const routeProto = "77"

type options struct {
	kubeconfig  string
	nodeName    string
	clusterCIDR string
	confPath    string
	watchSecs   int
}

type nodeObj struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR  string   `json:"podCIDR"`
		PodCIDRs []string `json:"podCIDRs"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"status"`
}

type nodeList struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	Items []nodeObj `json:"items"`
}

type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

func main() {
	host, _ := os.Hostname()
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "/etc/kubernetes/kubelet.conf", "kubeconfig with the node's credentials")
	flag.StringVar(&o.nodeName, "node-name", strings.ToLower(host), "this node's name")
	flag.StringVar(&o.clusterCIDR, "cluster-cidr", "10.244.0.0/16", "pod network of the whole cluster (not masqueraded)")
	flag.StringVar(&o.confPath, "cni-conf", "/etc/cni/net.d/10-hdscale.conflist", "CNI conflist to write")
	flag.IntVar(&o.watchSecs, "watch-seconds", 60, "length of one watch before a full resync")
	flag.Parse()
	log.SetFlags(0)
	if _, _, err := net.ParseCIDR(o.clusterCIDR); err != nil {
		log.Fatalf("invalid --cluster-cidr: %v", err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		log.Printf("enable ip_forward: %v", err)
	}
	ctx := context.Background()
	last, repeats := "", 0
	for {
		err := runOnce(ctx, o)
		if err == nil {
			last, repeats = "", 0
			continue
		}
		// while the node waits for kubeadm the same error repeats every 2s
		if msg := err.Error(); msg != last || repeats%30 == 29 {
			log.Printf("sync: %v", err)
			last, repeats = msg, 0
		} else {
			repeats++
		}
		time.Sleep(2 * time.Second)
	}
}

// runOnce waits for credentials, lists nodes, reconciles, then follows a
// watch until it ends; the caller loops, so every watch end is a resync.
func runOnce(ctx context.Context, o options) error {
	c, err := newClient(o.kubeconfig)
	if err != nil {
		return err
	}
	var list nodeList
	if err := c.getJSON(ctx, "/api/v1/nodes", &list); err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	nodes := map[string]nodeObj{}
	for _, n := range list.Items {
		nodes[n.Metadata.Name] = n
	}
	if err := ensureMasquerade(o.clusterCIDR); err != nil {
		log.Printf("masquerade: %v", err)
	}
	reconcile(o, nodes)

	q := url.Values{"watch": {"1"}, "resourceVersion": {list.Metadata.ResourceVersion},
		"timeoutSeconds": {strconv.Itoa(o.watchSecs)}}
	body, err := c.stream(ctx, "/api/v1/nodes?"+q.Encode())
	if err != nil {
		return fmt.Errorf("watch nodes: %w", err)
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var ev watchEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("watch nodes: %w", err)
		}
		var n nodeObj
		if ev.Type == "ERROR" || json.Unmarshal(ev.Object, &n) != nil {
			return nil // e.g. resource version too old: relist
		}
		switch ev.Type {
		case "ADDED", "MODIFIED":
			nodes[n.Metadata.Name] = n
		case "DELETED":
			delete(nodes, n.Metadata.Name)
		default:
			continue
		}
		reconcile(o, nodes)
	}
}

func ipv4CIDR(n nodeObj) string {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		if ip, _, err := net.ParseCIDR(c); err == nil && ip.To4() != nil {
			return c
		}
	}
	return ""
}

func internalIPv4(n nodeObj) string {
	for _, a := range n.Status.Addresses {
		if ip := net.ParseIP(a.Address); a.Type == "InternalIP" && ip != nil && ip.To4() != nil {
			return a.Address
		}
	}
	return ""
}

var lastWaiting bool

func reconcile(o options, nodes map[string]nodeObj) {
	self, ok := nodes[o.nodeName]
	cidr := ""
	if ok {
		cidr = ipv4CIDR(self)
	}
	if cidr == "" {
		if !lastWaiting {
			log.Printf("waiting for node %s to get a podCIDR", o.nodeName)
			lastWaiting = true
		}
	} else {
		lastWaiting = false
		if err := writeConf(o.confPath, cidr); err != nil {
			log.Printf("write CNI config: %v", err)
		}
	}
	want := map[string]string{}
	for name, n := range nodes {
		if name == o.nodeName {
			continue
		}
		if c, ip := ipv4CIDR(n), internalIPv4(n); c != "" && ip != "" {
			want[c] = ip
		}
	}
	if err := syncRoutes(want); err != nil {
		log.Printf("routes: %v", err)
	}
}

func writeConf(path, cidr string) error {
	conf := map[string]any{
		"cniVersion": "0.3.1",
		"name":       "hdscale",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    defaultRouteMTU(),
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  []any{map[string]string{"dst": "0.0.0.0/0"}},
					"ranges":  []any{[]any{map[string]string{"subnet": cidr}}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	raw, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, raw) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return err
	}
	log.Printf("writing %s for podCIDR %s", path, cidr)
	return os.Rename(tmp, path)
}

// defaultRouteMTU is the MTU of the interface holding the default route.
func defaultRouteMTU() int {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return 1500
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 2 && fields[1] == "00000000" {
			raw, err := os.ReadFile("/sys/class/net/" + fields[0] + "/mtu")
			if err == nil {
				if mtu, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
					return mtu
				}
			}
		}
	}
	return 1500
}

func syncRoutes(want map[string]string) error {
	out, err := run("ip", "-4", "route", "show", "proto", routeProto)
	if err != nil {
		return err
	}
	have := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "via" {
			have[f[0]] = f[2]
		}
	}
	var errs []error
	for cidr, via := range want {
		if have[cidr] == via {
			continue
		}
		log.Printf("route %s via %s", cidr, via)
		if _, err := run("ip", "-4", "route", "replace", cidr, "via", via, "proto", routeProto); err != nil {
			errs = append(errs, err)
		}
	}
	for cidr := range have {
		if _, ok := want[cidr]; !ok {
			log.Printf("removing route %s", cidr)
			if _, err := run("ip", "-4", "route", "del", cidr, "proto", routeProto); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// ensureMasquerade: pod traffic to anything outside the cluster CIDR leaves
// with the node's address.
func ensureMasquerade(clusterCIDR string) error {
	const chain = "HDSCALE-MASQ"
	if _, err := run("iptables", "-w", "-t", "nat", "-S", chain); err != nil {
		if _, err := run("iptables", "-w", "-t", "nat", "-N", chain); err != nil {
			return err
		}
	}
	rules := [][]string{
		{"POSTROUTING", "-s", clusterCIDR, "-j", chain},
		{chain, "-d", clusterCIDR, "-j", "RETURN"},
		{chain, "-j", "MASQUERADE"},
	}
	for _, r := range rules {
		check := append([]string{"-w", "-t", "nat", "-C"}, r...)
		if _, err := run("iptables", check...); err == nil {
			continue
		}
		add := append([]string{"-w", "-t", "nat", "-A"}, r...)
		if _, err := run("iptables", add...); err != nil {
			return err
		}
	}
	return nil
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// client is a minimal Kubernetes API client built from a kubeconfig with a
// single cluster and user, as kubeadm writes kubelet.conf.
type client struct {
	server string
	http   *http.Client
}

func newClient(path string) (*client, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig (waiting for kubeadm): %w", err)
	}
	kv := parseKubeconfig(raw)
	server := kv["server"]
	if server == "" {
		return nil, fmt.Errorf("%s: no server", path)
	}
	var caPEM []byte
	if d := kv["certificate-authority-data"]; d != "" {
		if caPEM, err = base64.StdEncoding.DecodeString(d); err != nil {
			return nil, fmt.Errorf("certificate-authority-data: %w", err)
		}
	} else if f := kv["certificate-authority"]; f != "" {
		if caPEM, err = os.ReadFile(f); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	if len(caPEM) > 0 && !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s: bad CA", path)
	}
	certFile, keyFile := kv["client-certificate"], kv["client-key"]
	certData, keyData := kv["client-certificate-data"], kv["client-key-data"]
	getCert := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		var cert tls.Certificate
		var err error
		if certData != "" {
			c, _ := base64.StdEncoding.DecodeString(certData)
			k, _ := base64.StdEncoding.DecodeString(keyData)
			cert, err = tls.X509KeyPair(c, k)
		} else {
			// re-read on every handshake: the kubelet rotates this file
			cert, err = tls.LoadX509KeyPair(certFile, keyFile)
		}
		if err != nil {
			return nil, err
		}
		return &cert, nil
	}
	if certData == "" && certFile == "" {
		return nil, fmt.Errorf("%s: no client certificate", path)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, GetClientCertificate: getCert, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	return &client{server: strings.TrimRight(server, "/"), http: &http.Client{Transport: tr}}, nil
}

// parseKubeconfig returns the first value of every "key: value" line of a
// kubeconfig with one cluster and one user (kubelet.conf as kubeadm writes it),
// enough for server, certificate-authority[-data], client-certificate[-data]
// and client-key[-data] without a YAML library.
func parseKubeconfig(raw []byte) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- ")), ":")
		if !ok {
			continue
		}
		if _, seen := kv[k]; !seen {
			kv[k] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return kv
}

func (c *client) do(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

func (c *client) getJSON(ctx context.Context, path string, into any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.do(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(into)
}

func (c *client) stream(ctx context.Context, path string) (io.ReadCloser, error) {
	resp, err := c.do(ctx, path)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
