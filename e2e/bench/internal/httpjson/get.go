// Package httpjson reads JSON from the benchmarks' own HTTP endpoints (the
// fake runtime's info, the load tools' control ports). It has no Kubernetes
// dependency, so in-cluster clients built FROM scratch stay small.
package httpjson

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Get decodes the JSON answer of GET url into v. An answer other than 200 is
// an error naming the URL and status.
func Get(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decoding the answer: %w", url, err)
	}
	return nil
}
