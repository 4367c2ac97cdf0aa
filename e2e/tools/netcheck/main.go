// Command netcheck is the payload of e2e/tools/cluster-check.sh's smoke test
// of the kind cluster's network (there is no registry to pull busybox from):
//
//	netcheck serve [ADDR]      HTTP server answering "pod=<hostname>" (default :8080)
//	netcheck get [-k] URL      GET URL, print the body, fail on non-2xx
//	netcheck lookup NAME       resolve NAME, print the addresses
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		args = []string{"serve"}
	}
	var err error
	switch args[0] {
	case "serve":
		addr := ":8080"
		if len(args) > 1 {
			addr = args[1]
		}
		err = serve(addr)
	case "get":
		insecure := len(args) > 2 && args[1] == "-k"
		if insecure {
			args = args[1:]
		}
		if len(args) != 2 {
			err = fmt.Errorf("usage: netcheck get [-k] URL")
			break
		}
		err = get(args[1], insecure)
	case "lookup":
		if len(args) != 2 {
			err = fmt.Errorf("usage: netcheck lookup NAME")
			break
		}
		var addrs []string
		if addrs, err = net.LookupHost(args[1]); err == nil {
			fmt.Println(args[1], addrs)
		}
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netcheck:", err)
		os.Exit(1)
	}
}

func serve(addr string) error {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "pod=%s\n", host)
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}

func get(url string, insecure bool) error {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure}} //nolint:gosec // smoke test against self-signed endpoints
	c := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Printf("%s %s\n", resp.Status, body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
