package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Body kinds of probe flood.
const (
	// kindHuge is a syntactically valid JSON object of -size bytes (a string
	// field padded to size): the largest body a server should still read.
	kindHuge = "huge"
	// kindOversize is -size bytes plus one.
	kindOversize = "oversize"
	// kindMalformed is truncated JSON of -size bytes.
	kindMalformed = "malformed"
	// kindDeep is deeply nested JSON arrays of -size bytes.
	kindDeep = "deep"
)

// body returns the request body of kind, size bytes long (oversize: +1).
func body(kind string, size int) ([]byte, error) {
	switch kind {
	case kindHuge, kindOversize:
		if kind == kindOversize {
			size++
		}
		const head, tail = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","pad":"`, `"}`
		if size < len(head)+len(tail) {
			return nil, fmt.Errorf("size %d too small", size)
		}
		b := make([]byte, 0, size)
		b = append(b, head...)
		b = append(b, bytes.Repeat([]byte("a"), size-len(head)-len(tail))...)
		return append(b, tail...), nil
	case kindMalformed:
		unit := []byte(`{"request":{"object":{"metadata":{"name":"x",`)
		return bytes.Repeat(unit, size/len(unit)+1)[:size], nil
	case kindDeep:
		half := size / 2
		return append(bytes.Repeat([]byte("["), half), bytes.Repeat([]byte("]"), size-half)...), nil
	}
	return nil, fmt.Errorf("unknown body kind %q: want huge, oversize, malformed or deep", kind)
}

// runFloods runs one flood per ";"-separated flag list in args[0] and
// prints "<index> <counts>" per flood (counts as "status=n,...").
func runFloods(ctx context.Context, args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New(`floods: want one argument, flood flag lists separated by ";"`)
	}
	for i, spec := range strings.Split(args[0], ";") {
		var b strings.Builder
		if err := runFlood(ctx, strings.Fields(spec), &b); err != nil {
			return fmt.Errorf("flood %d (%s): %w", i, spec, err)
		}
		counts := strings.Join(strings.Fields(b.String()), ",")
		if _, err := fmt.Fprintf(out, "%d %s\n", i, counts); err != nil {
			return err
		}
	}
	return nil
}

func runFlood(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("flood", flag.ContinueOnError)
	url := fs.String("url", "", "URL to POST to")
	kind := fs.String("kind", kindHuge, "body kind: huge, oversize, malformed, deep")
	size := fs.Int("size", 3<<20, "body size in bytes")
	n := fs.Int("n", 100, "requests in all")
	conns := fs.Int("c", 4, "concurrent connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *n < 1 || *conns < 1 {
		return errors.New("flood: -url, -n >= 1 and -c >= 1 are required")
	}
	b, err := body(*kind, *size)
	if err != nil {
		return err
	}
	client := httpClient(*conns)
	var mu sync.Mutex
	counts := map[string]int{}
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				key := "error"
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(b))
				if err == nil {
					req.Header.Set("Content-Type", "application/json")
					var resp *http.Response
					if resp, err = client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						key = strconv.Itoa(resp.StatusCode)
					}
				}
				mu.Lock()
				counts[key]++
				mu.Unlock()
			}
		}()
	}
	for range *n {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := fmt.Fprintf(out, "%s=%d\n", k, counts[k]); err != nil {
			return err
		}
	}
	return ctx.Err()
}
