package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: probe get|flood [flags]")
	}
	switch args[0] {
	case "get":
		return runGet(ctx, args[1:], out)
	case "flood":
		return runFlood(ctx, args[1:], out)
	case "floods":
		return runFloods(ctx, args[1:], out)
	}
	return fmt.Errorf("unknown command %q: want get, flood or floods", args[0])
}

func httpClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see the package comment
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
		},
	}
}

func runGet(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	urls := fs.String("url", "", "URL to GET (several: comma-separated, one line each)")
	tokenFile := fs.String("token-file", "", "send the token in this file as a bearer token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *urls == "" {
		return errors.New("get: -url is required")
	}
	var token string
	if *tokenFile != "" {
		tok, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("get: reading the token: %w", err)
		}
		token = strings.TrimSpace(string(tok))
	}
	client := httpClient(1)
	for _, u := range strings.Split(*urls, ",") {
		status := "error"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
			_ = resp.Body.Close()
			status = strconv.Itoa(resp.StatusCode)
		}
		if _, err := fmt.Fprintf(out, "%s %s\n", u, status); err != nil {
			return err
		}
	}
	return nil
}
