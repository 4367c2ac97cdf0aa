package benchkit

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/hdscale/hdscale/e2e/bench/internal/stats"
)

// scrapeClient reads the /metrics of local components that serve HTTPS with
// a self-signed certificate (kube-scheduler) and allow anonymous /metrics.
var scrapeClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // local benchmark components only
}

// ScrapeHistogram fetches url (a Prometheus text endpoint) and returns the
// histogram family name summed over the series whose labels include match.
func ScrapeHistogram(ctx context.Context, url, name string, match map[string]string) (stats.Histogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return stats.Histogram{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return stats.Histogram{}, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return stats.Histogram{}, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	h, err := stats.ParseHistogram(resp.Body, name, match)
	if err != nil {
		return h, fmt.Errorf("scrape %s: %w", url, err)
	}
	return h, nil
}
