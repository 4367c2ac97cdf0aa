package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/clock"

	"github.com/hdscale/hdscale/certs"
	"github.com/hdscale/hdscale/internal/logging"
	"github.com/hdscale/hdscale/internal/policy"
	"github.com/hdscale/hdscale/internal/serving"
	"github.com/hdscale/hdscale/webhook"
)

// serveOptions configure the harness: hdscale's webhook server (webhook.Run,
// exactly as cmd/webhook runs it) against a fake API (client-go's fake
// clientset) holding one opted-in namespace and a pool of nodes.
type serveOptions struct {
	listen, healthListen, metricsListen, controlListen string
	certFile, keyFile                                  string
	addrFile                                           string
	namespace                                          string
	nsLabels                                           string
	poolNodes                                          int
	nodeCPU                                            string
	dsCPU                                              string
	logLevel                                           string
}

func serveMain(args []string) error {
	var o serveOptions
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "HTTPS address of the webhook (/mutate)")
	fs.StringVar(&o.healthListen, "health-listen", "127.0.0.1:0", "address of the webhook's /healthz, /readyz")
	fs.StringVar(&o.metricsListen, "metrics-listen", "127.0.0.1:0", "loopback address of the webhook's /metrics (plain HTTP, no authentication)")
	fs.StringVar(&o.controlListen, "control-listen", "127.0.0.1:0", "address of the harness's /bench/latency, /bench/reset, /bench/process, /debug/pprof/")
	fs.StringVar(&o.certFile, "tls-cert-file", "", "serving certificate (PEM; noopwebhook gencert makes one)")
	fs.StringVar(&o.keyFile, "tls-key-file", "", "its private key")
	fs.StringVar(&o.addrFile, "addr-file", "", "write the bound addresses here (JSON) once the webhook serves")
	fs.StringVar(&o.namespace, "namespace", "hetida", "the opted-in namespace the fake API holds")
	fs.StringVar(&o.nsLabels, "namespace-labels", policy.LabelPattern+"=per-core", "its labels (k=v,...)")
	fs.IntVar(&o.poolNodes, "pool-nodes", 3, "Ready nodes labelled and tainted hdscale.io/pool=runtime")
	fs.StringVar(&o.nodeCPU, "node-cpu", "4", "allocatable CPU of each pool node")
	fs.StringVar(&o.dsCPU, "daemonset-cpu", "250m", "CPU request of a DaemonSet running on every node (\"0\": none)")
	fs.StringVar(&o.logLevel, "log-level", "info", "webhook log level (info, as deployed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.certFile == "" || o.keyFile == "" {
		return errors.New("-tls-cert-file and -tls-key-file are required")
	}
	labels, err := parseLabels(o.nsLabels)
	if err != nil {
		return err
	}
	objs, err := fakeObjects(o, labels)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return fmt.Errorf("loading the certificate: %w", err)
	}

	log, flush, err := logging.New(logging.Options{Level: o.logLevel})
	if err != nil {
		return err
	}
	defer flush()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	lat := &Histogram{}
	control, err := net.Listen("tcp", o.controlListen)
	if err != nil {
		return err
	}
	ctlSrv := &http.Server{Handler: controlMux(lat), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ctlSrv.Serve(control) }()
	defer ctlSrv.Close()

	get := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
	opts := webhook.Options{
		ListenAddr: o.listen, HealthAddr: o.healthListen, MetricsAddr: o.metricsListen, Namespace: "hdscale-system",
		TLSConfig: certs.ServerTLSConfig(get),
		// The handler times each review with opts.Clock (Now at entry,
		// Since after writing the answer, the span of its
		// hdscale_webhook_admission_duration_seconds histogram); the
		// recording clock copies every Since into the fine histogram.
		Clock: recordingClock{PassiveClock: clock.RealClock{}, h: lat},
		Listening: func(a webhook.Addrs) {
			addrs := map[string]string{"webhook": a.Webhook.String(), "health": a.Health.String(), "metrics": a.Metrics.String(), "control": control.Addr().String()}
			if o.addrFile == "" {
				fmt.Fprintf(os.Stderr, "webhookload serve: %v\n", addrs)
				return
			}
			b, _ := json.Marshal(addrs)
			if err := os.WriteFile(o.addrFile+".tmp", b, 0o644); err == nil {
				_ = os.Rename(o.addrFile+".tmp", o.addrFile)
			}
		},
	}
	client := fake.NewClientset(objs...)
	return webhook.Run(ctx, opts, client, log, serving.NewRegistry(), get)
}

// recordingClock is the real clock; Since also records the duration.
type recordingClock struct {
	clock.PassiveClock
	h *Histogram
}

func (c recordingClock) Since(t time.Time) time.Duration {
	d := c.PassiveClock.Since(t)
	c.h.Record(d)
	return d
}

func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	for _, kv := range splitComma(s) {
		k, v, ok := cutEq(kv)
		if !ok {
			return nil, fmt.Errorf("label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// fakeObjects: the namespace, the pool nodes and one DaemonSet.
func fakeObjects(o serveOptions, nsLabels map[string]string) ([]k8sruntime.Object, error) {
	cpu, err := resource.ParseQuantity(o.nodeCPU)
	if err != nil {
		return nil, fmt.Errorf("-node-cpu: %w", err)
	}
	dsCPU, err := resource.ParseQuantity(o.dsCPU)
	if err != nil {
		return nil, fmt.Errorf("-daemonset-cpu: %w", err)
	}
	labels := map[string]string{"kubernetes.io/metadata.name": o.namespace}
	for k, v := range nsLabels {
		labels[k] = v
	}
	objs := []k8sruntime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.namespace, Labels: labels}}}
	for i := 1; i <= o.poolNodes; i++ {
		name := fmt.Sprintf("pool-%d", i)
		objs = append(objs, &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", policy.NodePoolKey: policy.DefaultPool}},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: policy.NodePoolKey, Value: policy.DefaultPool, Effect: corev1.TaintEffectNoSchedule}}},
			Status: corev1.NodeStatus{
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			},
		})
	}
	if !dsCPU.IsZero() {
		objs = append(objs, &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "node-agent", Namespace: "kube-system"},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{Name: "agent", Image: "agent:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: dsCPU}}}},
			}}},
		})
	}
	return objs, nil
}

// controlMux serves the harness's measurements of its own process.
func controlMux(lat *Histogram) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/bench/latency", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, lat.Snapshot())
	})
	mux.HandleFunc("/bench/reset", func(w http.ResponseWriter, _ *http.Request) {
		lat.Reset()
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("/bench/process", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, readProcess())
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Process is what the benchmark reads about a server process.
type Process struct {
	CPUSeconds  float64 `json:"cpuSeconds"`
	Mallocs     uint64  `json:"mallocs"`
	AllocBytes  uint64  `json:"allocBytes"`
	NumGC       uint64  `json:"numGC"`
	RSSBytes    uint64  `json:"rssBytes"`
	PeakRSS     uint64  `json:"peakRSSBytes"`
	Goroutines  int     `json:"goroutines,omitempty"`
	GOMAXPROCS  int     `json:"gomaxprocs,omitempty"`
	HeapInuse   uint64  `json:"heapInuseBytes,omitempty"`
	Admissions  float64 `json:"admissions,omitempty"`
	GCPauseSecs float64 `json:"gcPauseSeconds,omitempty"`
}

func readProcess() Process {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	hwm, rss := procStatus("/proc/self/status")
	return Process{
		CPUSeconds: float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6,
		Mallocs:    ms.Mallocs, AllocBytes: ms.TotalAlloc, NumGC: uint64(ms.NumGC), RSSBytes: rss, PeakRSS: hwm,
		Goroutines: runtime.NumGoroutine(), GOMAXPROCS: runtime.GOMAXPROCS(0), HeapInuse: ms.HeapInuse,
		GCPauseSecs: float64(ms.PauseTotalNs) / 1e9,
	}
}
