package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hdscale/hdscale/e2e/bench/internal/httpjson"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
	"github.com/hdscale/hdscale/e2e/bench/webhookload/benchpod"
)

// runOptions configure the load generator.
type runOptions struct {
	casePath       string
	namespace      string
	hdscaleURL     string
	hdscaleMetrics string
	hdscaleControl string
	noopURL        string
	noopMetrics    string
	caFile         string
	rates          []float64
	warmup         time.Duration
	duration       time.Duration
	rounds         int
	maxInflight    int
	cooldown       time.Duration
	idleConns      int
	http2          bool
	profileRate    float64
	profileSecs    int
	profileOut     string
	out            string
	serverPID      int
	noopPID        int
}

func runMain(args []string) error {
	var o runOptions
	var rates string
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&o.casePath, "case", "webhook/testdata/cases/helm-runtime-deployment.yaml", "webhook testdata case whose pod is admitted")
	fs.StringVar(&o.namespace, "namespace", "hetida", "namespace of the admitted pod (opted in on the harness's fake API)")
	fs.StringVar(&o.hdscaleURL, "hdscale-url", "", "hdscale webhook URL (https://127.0.0.1:PORT/mutate)")
	fs.StringVar(&o.hdscaleMetrics, "hdscale-metrics", "", "hdscale webhook /metrics URL (its own latency histogram)")
	fs.StringVar(&o.hdscaleControl, "hdscale-control", "", "harness control URL (http://127.0.0.1:PORT): fine latency histogram, process stats, pprof")
	fs.StringVar(&o.noopURL, "noop-url", "", "no-op webhook URL (optional reference)")
	fs.StringVar(&o.noopMetrics, "noop-metrics", "", "no-op webhook /metrics URL")
	fs.StringVar(&o.caFile, "ca", "", "CA certificate both servers' certificates chain to (PEM)")
	fs.StringVar(&rates, "rates", "500,2000,5000", "offered rates in admissions per second (open loop)")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "load before each measurement window (not recorded)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measurement window per target, rate and round")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds (targets alternate first/second)")
	fs.IntVar(&o.maxInflight, "max-inflight", 64, "requests in flight at most (beyond: queued in the generator, latency still counted from the scheduled time)")
	fs.DurationVar(&o.cooldown, "cooldown", 2*time.Second, "idle time between steps (lets a server finish abandoned work)")
	fs.IntVar(&o.idleConns, "idle-conns", 25, "idle keep-alive connections kept (client-go's transport default, which kube-apiserver's webhook client uses)")
	fs.BoolVar(&o.http2, "http2", false, "use HTTP/2 (kube-apiserver uses HTTP/1.1 for webhooks reached through a Service)")
	fs.Float64Var(&o.profileRate, "profile-rate", 2000, "after the measurements, load hdscale at this rate while taking a CPU profile (0: none)")
	fs.IntVar(&o.profileSecs, "profile-seconds", 10, "CPU profile length")
	fs.StringVar(&o.profileOut, "profile-out", "", "write the CPU profile here")
	fs.StringVar(&o.out, "out", "", "write every measurement as JSON here")
	fs.IntVar(&o.serverPID, "hdscale-pid", 0, "pid of the hdscale server process (VmHWM read from /proc when set)")
	fs.IntVar(&o.noopPID, "noop-pid", 0, "pid of the no-op webhook process")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, r := range splitComma(rates) {
		v, err := strconv.ParseFloat(r, 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("-rates: bad rate %q", r)
		}
		o.rates = append(o.rates, v)
	}
	if o.hdscaleURL == "" || o.caFile == "" {
		return errors.New("-hdscale-url and -ca are required")
	}
	pod, err := benchpod.ReadCasePod(o.casePath, o.namespace)
	if err != nil {
		return err
	}
	pod, err = benchpod.ServerSidePod(pod, "kube-controller-manager", time.Now())
	if err != nil {
		return err
	}
	body, err := NewBody(pod, false)
	if err != nil {
		return err
	}
	client, err := newClient(o)
	if err != nil {
		return err
	}

	targets := []*target{{Name: "hdscale", URL: o.hdscaleURL, Metrics: o.hdscaleMetrics, Control: o.hdscaleControl, PID: o.serverPID}}
	if o.noopURL != "" {
		targets = append(targets, &target{Name: "noop", URL: o.noopURL, Metrics: o.noopMetrics, PID: o.noopPID})
	}
	res := Results{Case: o.casePath, BodyBytes: body.Len(), Options: optionsSummary(o), GoVersion: runtime.Version()}
	for _, t := range targets {
		ex, err := firstAnswer(client, t.URL, body)
		if err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
		res.Examples = append(res.Examples, ex)
		fmt.Fprintf(os.Stderr, "%s answers: allowed=%v patch=%d ops (%d bytes) warnings=%d response=%d bytes\n",
			t.Name, ex.Allowed, ex.PatchOps, ex.PatchBytes, ex.Warnings, ex.ResponseBytes)
	}

	for round := 0; round < o.rounds; round++ {
		for _, rate := range o.rates {
			order := targets
			if round%2 == 1 && len(targets) == 2 {
				order = []*target{targets[1], targets[0]}
			}
			for _, t := range order {
				time.Sleep(o.cooldown)
				st, err := runStep(client, body, t, rate, o.warmup, o.duration, o.maxInflight)
				if err != nil {
					return fmt.Errorf("%s at %.0f/s: %w", t.Name, rate, err)
				}
				st.Round = round + 1
				fmt.Fprintf(os.Stderr, "round %d %-7s %5.0f/s: achieved %.0f/s, client p50 %v p99 %v, server p50 %v p99 %v, errors %d\n",
					st.Round, t.Name, rate, st.Achieved, st.Client.Quantile(0.5), st.Client.Quantile(0.99),
					st.Server.Quantile(0.5), st.Server.Quantile(0.99), st.Errors)
				res.Steps = append(res.Steps, st)
			}
		}
	}
	for _, t := range targets {
		p, _ := t.process()
		res.Peak = append(res.Peak, PeakMemory{Target: t.Name, PeakRSSBytes: p.PeakRSS, RSSBytes: p.RSSBytes})
	}
	if o.profileRate > 0 && o.hdscaleControl != "" && o.profileOut != "" {
		if err := profileStep(client, body, targets[0], o.profileRate, o.profileSecs, o.maxInflight, o.profileOut); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		res.Profile = fmt.Sprintf("%s (hdscale at %.0f/s for %ds)", o.profileOut, o.profileRate, o.profileSecs)
	}
	if o.out != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.out, b, 0o644); err != nil {
			return err
		}
	}
	writeReport(os.Stdout, res, o.rates)
	return nil
}

func optionsSummary(o runOptions) string {
	proto := "HTTP/1.1 keep-alive"
	if o.http2 {
		proto = "HTTP/2"
	}
	return fmt.Sprintf("%s over TLS, %d idle connections kept, at most %d in flight; %d rounds x (%v warm-up + %v measured) per target and rate",
		proto, o.idleConns, o.maxInflight, o.rounds, o.warmup, o.duration)
}

// newClient is a client configured like kube-apiserver's webhook client:
// client-go's transport (25 idle connections per host, 10 s TLS handshake
// timeout), HTTP/1.1 for webhooks behind a Service.
func newClient(o runOptions) (*http.Client, error) {
	pem, err := os.ReadFile(o.caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificates", o.caFile)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: o.idleConns,
		MaxIdleConns:        0,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   o.http2,
	}
	if !o.http2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	ctlClient.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

// target is one webhook server under load.
type target struct {
	Name, URL, Metrics, Control string
	PID                         int
}

// process reads CPU, allocations and memory of the target's process.
func (t *target) process() (Process, error) {
	var p Process
	if t.Control != "" {
		if err := httpjson.Get(context.Background(), ctlClient, t.Control+"/bench/process", &p); err != nil {
			return p, err
		}
	} else if t.Metrics != "" {
		s, err := scrape(t.Metrics)
		if err != nil {
			return p, err
		}
		sum := func(name string) float64 { v, _ := s.Sum(name, nil); return v }
		p = Process{CPUSeconds: sum("process_cpu_seconds_total"), Mallocs: uint64(sum("go_memstats_mallocs_total")),
			AllocBytes: uint64(sum("go_memstats_alloc_bytes_total")), NumGC: uint64(sum("go_gc_cycles_total")),
			RSSBytes: uint64(sum("process_resident_memory_bytes")), PeakRSS: uint64(sum("process_resident_memory_peak_bytes")),
			Admissions: sum("noop_webhook_requests_total")}
	}
	if t.PID > 0 {
		if hwm, rss := procStatus(fmt.Sprintf("/proc/%d/status", t.PID)); hwm > 0 {
			p.PeakRSS, p.RSSBytes = hwm, rss
		}
	}
	return p, nil
}

// ctlClient reads metrics and control endpoints (trusting -ca for HTTPS ones).
var ctlClient = &http.Client{Timeout: 60 * time.Second}

func scrape(url string) (stats.Samples, error) {
	resp, err := ctlClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return stats.ParseText(resp.Body)
}

// Example describes one answer of a target (shown once per run).
type Example struct {
	Allowed       bool `json:"allowed"`
	PatchOps      int  `json:"patchOps"`
	PatchBytes    int  `json:"patchBytes"`
	Warnings      int  `json:"warnings"`
	ResponseBytes int  `json:"responseBytes"`
}

func firstAnswer(c *http.Client, url string, body Body) (Example, error) {
	raw, uid := body.With(nil, 1)
	b, err := post(c, url, raw)
	if err != nil {
		return Example{}, err
	}
	var rv admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &rv); err != nil {
		return Example{}, fmt.Errorf("decoding the answer: %w", err)
	}
	if rv.Response == nil || string(rv.Response.UID) != uid {
		return Example{}, fmt.Errorf("answer does not carry uid %s: %s", uid, b)
	}
	ex := Example{Allowed: rv.Response.Allowed, PatchBytes: len(rv.Response.Patch), Warnings: len(rv.Response.Warnings), ResponseBytes: len(b)}
	if len(rv.Response.Patch) > 0 {
		var ops []json.RawMessage
		if err := json.Unmarshal(rv.Response.Patch, &ops); err != nil {
			return ex, fmt.Errorf("decoding the patch: %w", err)
		}
		ex.PatchOps = len(ops)
	}
	if !ex.Allowed {
		return ex, fmt.Errorf("the pod was not allowed: %s", b)
	}
	return ex, nil
}

func post(c *http.Client, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, url+"?timeout=5s", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, */*")
	req.Header.Set("User-Agent", "kube-apiserver-admission")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("status %s: %s", resp.Status, b)
	}
	return b, nil
}

// Step is one measurement window: one target at one offered rate.
type Step struct {
	Round   int     `json:"round"`
	Target  string  `json:"target"`
	Rate    float64 `json:"rate"`
	Seconds float64 `json:"seconds"`
	// Sent and OK count requests scheduled inside the window.
	Sent     uint64  `json:"sent"`
	OK       uint64  `json:"ok"`
	Errors   uint64  `json:"errors"`
	Achieved float64 `json:"achieved"`
	// Client: answer time minus scheduled send time (includes any queueing
	// in the generator: coordinated-omission-free). Service: answer time
	// minus actual send time. Lag: actual minus scheduled send time.
	Client  Snapshot `json:"client"`
	Service Snapshot `json:"service"`
	Lag     Snapshot `json:"lag"`
	// Server: the harness's fine histogram over the handler (hdscale only).
	Server Snapshot `json:"server"`
	// Prom: the webhook's own hdscale_webhook_admission_duration_seconds.
	Prom *PromHistogram `json:"prom,omitempty"`
	// Admissions counted by the server in the window.
	Admissions float64 `json:"admissions"`
	Before     Process `json:"before"`
	After      Process `json:"after"`
	// GenCPUSeconds is the generator's own CPU time in the window.
	GenCPUSeconds float64 `json:"generatorCpuSeconds"`
	MaxInflight   int64   `json:"maxInflight"`
}

// ServerAdmissions is the server's count of answered reviews in the window.
func (s Step) ServerAdmissions() float64 {
	if s.Admissions > 0 {
		return s.Admissions
	}
	return float64(s.OK)
}

// generator sends one target a fixed open-loop rate.
type generator struct {
	client *http.Client
	body   Body
	url    string

	seq                   atomic.Uint64
	client_, service, lag *Histogram
	sent, ok, errs        atomic.Uint64
	inflight, maxInflight atomic.Int64
	// w0, w1: the measurement window (unix ns); a request is recorded when
	// its scheduled time falls inside.
	w0, w1   atomic.Int64
	stopping atomic.Bool
	firstErr atomic.Pointer[string]
}

func newGenerator(c *http.Client, body Body, url string) *generator {
	g := &generator{client: c, body: body, url: url, client_: &Histogram{}, service: &Histogram{}, lag: &Histogram{}}
	g.w0.Store(math.MaxInt64)
	g.w1.Store(math.MaxInt64)
	return g
}

// start runs workers and the dispatcher until stop is called; stop sends
// the requests scheduled inside the measurement window that are still
// queued (they count, with their queueing time), drops the others and
// returns once every request is answered.
func (g *generator) start(rate float64, workers int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	jobs := make(chan job, 1<<16)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); g.worker(jobs) }()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.dispatch(ctx, jobs, time.Now(), rate)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			g.stopping.Store(true)
			close(jobs)
			wg.Wait()
		})
	}
}

type job struct{ at time.Time }

// runStep loads t at rate for warmup+window and measures the window.
func runStep(c *http.Client, body Body, t *target, rate float64, warmup, window time.Duration, workers int) (Step, error) {
	g := newGenerator(c, body, t.URL)
	st := Step{Target: t.Name, Rate: rate}
	begin := time.Now()
	wait := g.start(rate, workers)
	defer wait()

	time.Sleep(time.Until(begin.Add(warmup)))
	// Window start: the server's readings first, then recording on.
	var serverBefore, serverAfter Snapshot
	var promBefore PromHistogram
	var err error
	if t.Control != "" {
		if err := httpjson.Get(context.Background(), ctlClient, t.Control+"/bench/latency", &serverBefore); err != nil {
			return st, err
		}
		if t.Metrics != "" {
			if promBefore, err = scrapeHist(t.Metrics); err != nil {
				return st, err
			}
		}
	}
	if st.Before, err = t.process(); err != nil {
		return st, err
	}
	gen0 := selfCPU()
	w0 := time.Now()
	g.w0.Store(w0.UnixNano())
	g.w1.Store(w0.Add(window).UnixNano())

	time.Sleep(time.Until(w0.Add(window)))
	w1 := time.Now()
	gen1 := selfCPU()
	if st.After, err = t.process(); err != nil {
		return st, err
	}
	if t.Control != "" {
		if err := httpjson.Get(context.Background(), ctlClient, t.Control+"/bench/latency", &serverAfter); err != nil {
			return st, err
		}
		st.Server = serverAfter.Sub(serverBefore)
		st.Admissions = float64(st.Server.Total)
		if t.Metrics != "" {
			promAfter, err := scrapeHist(t.Metrics)
			if err != nil {
				return st, err
			}
			d := promAfter.Sub(promBefore)
			st.Prom = &d
		}
	} else {
		st.Admissions = st.After.Admissions - st.Before.Admissions
	}
	wait()

	st.Seconds = w1.Sub(w0).Seconds()
	st.Sent, st.OK, st.Errors = g.sent.Load(), g.ok.Load(), g.errs.Load()
	st.Achieved = st.ServerAdmissions() / st.Seconds
	st.Client, st.Service, st.Lag = g.client_.Snapshot(), g.service.Snapshot(), g.lag.Snapshot()
	st.GenCPUSeconds = gen1 - gen0
	st.MaxInflight = g.maxInflight.Load()
	if p := g.firstErr.Load(); p != nil {
		fmt.Fprintf(os.Stderr, "%s at %.0f/s: first error: %s\n", t.Name, rate, *p)
	}
	return st, nil
}

func scrapeHist(url string) (PromHistogram, error) {
	s, err := scrape(url)
	if err != nil {
		return PromHistogram{}, err
	}
	return promHistogram(s, "hdscale_webhook_admission_duration_seconds", map[string]string{"webhook": "/mutate"}), nil
}

// dispatch schedules request i at start + i/rate until ctx ends; a
// request whose time has come is handed to a worker at once (several per
// wake-up when the timer is coarser than the period).
func (g *generator) dispatch(ctx context.Context, jobs chan<- job, start time.Time, rate float64) {
	period := time.Duration(float64(time.Second) / rate)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := int64(0); ; i++ {
		at := start.Add(time.Duration(i) * period)
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		select {
		case jobs <- job{at: at}:
		case <-ctx.Done():
			return
		}
	}
}

func (g *generator) worker(jobs <-chan job) {
	var buf []byte
	resp := make([]byte, 0, 8<<10)
	for j := range jobs {
		at := j.at.UnixNano()
		rec := at >= g.w0.Load() && at < g.w1.Load()
		if !rec && g.stopping.Load() {
			continue
		}
		n := g.seq.Add(1)
		var uid string
		buf, uid = g.body.With(buf, n)
		sentAt := time.Now()
		if in := g.inflight.Add(1); in > g.maxInflight.Load() {
			g.maxInflight.Store(in)
		}
		var err error
		resp, err = g.do(buf, resp[:0])
		g.inflight.Add(-1)
		doneAt := time.Now()
		if err == nil && (!bytes.Contains(resp, []byte(uid)) || !bytes.Contains(resp, []byte(`"allowed":true`))) {
			err = fmt.Errorf("unexpected answer: %.300s", resp)
		}
		if !rec {
			continue
		}
		g.sent.Add(1)
		if err != nil {
			g.errs.Add(1)
			msg := err.Error()
			g.firstErr.CompareAndSwap(nil, &msg)
			continue
		}
		g.ok.Add(1)
		g.client_.Record(doneAt.Sub(j.at))
		g.service.Record(doneAt.Sub(sentAt))
		g.lag.Record(sentAt.Sub(j.at))
	}
}

func (g *generator) do(body, into []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, g.url+"?timeout=5s", bytes.NewReader(body))
	if err != nil {
		return into, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, */*")
	req.Header.Set("User-Agent", "kube-apiserver-admission")
	resp, err := g.client.Do(req)
	if err != nil {
		return into, err
	}
	defer resp.Body.Close()
	w := bytes.NewBuffer(into)
	if _, err := w.ReadFrom(resp.Body); err != nil {
		return w.Bytes(), err
	}
	if resp.StatusCode != http.StatusOK {
		return w.Bytes(), fmt.Errorf("status %s: %.300s", resp.Status, w.Bytes())
	}
	return w.Bytes(), nil
}

// selfCPU is this process's CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// profileStep loads t at rate while its harness records a CPU profile.
func profileStep(c *http.Client, body Body, t *target, rate float64, secs, workers int, out string) error {
	g := newGenerator(c, body, t.URL)
	wait := g.start(rate, workers)
	defer wait()
	time.Sleep(time.Second)
	resp, err := ctlClient.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", t.Control, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
