package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hdscale/hdscale/e2e/bench/internal/httpjson"
)

// Record is one execution as the client saw it. Times are milliseconds
// since the batch started (all connections established).
type Record struct {
	Conn     int     `json:"conn"`
	Exec     int     `json:"exec"`
	StartMs  float64 `json:"startMs"`
	EndMs    float64 `json:"endMs"`
	Pod      string  `json:"pod,omitempty"`
	Node     string  `json:"node,omitempty"`
	QueuedMs float64 `json:"queuedMs"`
	RunMs    float64 `json:"runMs"`
	CPUMs    float64 `json:"cpuMs"`
	Err      string  `json:"err,omitempty"`
}

// Summary is the last line of the output.
type Summary struct {
	Summary    bool    `json:"summary"`
	MakespanMs float64 `json:"makespanMs"`
	Failed     int     `json:"failed"`
	// ConnPods is the pod each connection reached when it connected.
	ConnPods []string `json:"connPods"`
}

// response is the part of the fake runtime's answer the client reads.
type response struct {
	Result   string  `json:"result"`
	Pod      string  `json:"pod"`
	Node     string  `json:"node"`
	QueuedMs float64 `json:"queued_ms"`
	RunMs    float64 `json:"run_ms"`
	CPUMs    float64 `json:"cpu_ms"`
	Error    string  `json:"error"`
}

// newConnClient is an HTTP client that keeps exactly one connection open.
func newConnClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     time.Hour,
	}}
}

func runBatch(ctx context.Context, o options, enc *json.Encoder) error {
	clients := make([]*http.Client, o.Connections)
	sum := Summary{Summary: true, ConnPods: make([]string, o.Connections)}
	for i := range clients {
		clients[i] = newConnClient()
		var info struct {
			Pod string `json:"pod"`
		}
		if err := httpjson.Get(ctx, clients[i], o.URL+"/engine/info", &info); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		sum.ConnPods[i] = info.Pod
	}
	queue := make(chan int, o.Executions)
	for k := 0; k < o.Executions; k++ {
		queue <- k
	}
	close(queue)
	body, err := json.Marshal(map[string]float64{"cpu_seconds": o.CPUSeconds})
	if err != nil {
		return fmt.Errorf("encoding the request: %w", err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	ms := func(t time.Time) float64 { return float64(t.Sub(start)) / float64(time.Millisecond) }
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range queue {
				r := Record{Conn: i, Exec: k, StartMs: ms(time.Now())}
				resp, err := post(ctx, c, o.URL+"/engine/runtime", body)
				r.EndMs = ms(time.Now())
				if err != nil {
					r.Err = err.Error()
				} else {
					r.Pod, r.Node, r.QueuedMs, r.RunMs, r.CPUMs = resp.Pod, resp.Node, resp.QueuedMs, resp.RunMs, resp.CPUMs
				}
				mu.Lock()
				if r.Err != "" {
					sum.Failed++
				}
				sum.MakespanMs = max(sum.MakespanMs, r.EndMs)
				_ = enc.Encode(r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := enc.Encode(sum); err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("batch incomplete: %w", ctx.Err())
	}
	return nil
}

func post(ctx context.Context, c *http.Client, url string, body []byte) (response, error) {
	var out response
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return out, fmt.Errorf("reading the response: %w", err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("%s: response is not JSON: %.200s", resp.Status, b)
	}
	if resp.StatusCode != http.StatusOK || out.Result != "ok" {
		return out, fmt.Errorf("%s: %s", resp.Status, out.Error)
	}
	return out, nil
}
