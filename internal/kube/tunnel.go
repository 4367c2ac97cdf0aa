package kube

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Tunnel is a port-forward to one port of one pod (through the API server
// and the pod's kubelet, as `kubectl port-forward` does) with an HTTPS
// client that authenticates to the pod as the kubeconfig's user: its
// client certificate, bearer token or exec credential plugin. hdscale's
// private endpoints (/metrics, /explain) check exactly that identity; the
// API server's pod proxy cannot be used for them, because it forwards no
// credentials.
//
// The client does not verify the pod's certificate (self-signed in memory
// by the pod): the tunnel itself is authenticated end to end by the API
// server and reaches only the pod it names.
type Tunnel struct {
	// BaseURL is https://127.0.0.1:<local port>.
	BaseURL string
	// Client authenticates as the kubeconfig's user.
	Client *http.Client

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// OpenTunnel forwards a local port on 127.0.0.1 to port of pod
// namespace/name and returns once it is ready. Close it.
func OpenTunnel(ctx context.Context, cfg *rest.Config, namespace, name string, port int) (*Tunnel, error) {
	where := fmt.Sprintf("pod %s/%s port %d", namespace, name, port)
	u, err := portForwardURL(cfg, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", where, err)
	}
	dialer, err := portForwardDialer(cfg, u)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", where, err)
	}
	t := &Tunnel{stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, t.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", where, err)
	}
	fwdErr := make(chan error, 1)
	go func() {
		defer close(t.done)
		fwdErr <- pf.ForwardPorts()
	}()
	select {
	case <-ready:
	case err := <-fwdErr:
		return nil, fmt.Errorf("port-forward to %s: %w", where, err)
	case <-ctx.Done():
		t.Close()
		return nil, fmt.Errorf("port-forward to %s: %w", where, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		t.Close()
		return nil, fmt.Errorf("port-forward to %s: no local port (%v)", where, err)
	}
	t.BaseURL = fmt.Sprintf("https://127.0.0.1:%d", ports[0].Local)
	c := rest.CopyConfig(cfg)
	c.Host, c.APIPath = t.BaseURL, ""
	c.TLSClientConfig = rest.TLSClientConfig{
		Insecure: true, // see the type comment
		CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, CertData: cfg.CertData, KeyData: cfg.KeyData,
	}
	if t.Client, err = rest.HTTPClientFor(c); err != nil {
		t.Close()
		return nil, fmt.Errorf("client for %s: %w", where, err)
	}
	return t, nil
}

// Get GETs path (with its query) through the tunnel and returns the body of
// a 200 answer; any other status is an error carrying the body.
func (t *Tunnel) Get(ctx context.Context, pathAndQuery string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.BaseURL+pathAndQuery, nil)
	if err != nil {
		return nil, err
	}
	return Do(t.Client, req)
}

// Do sends req and returns the body of a 200 answer; any other status is
// a *StatusError carrying the body.
func Do(c *http.Client, req *http.Request) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer to GET %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return b, &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(b)), Path: req.URL.Path}
	}
	return b, nil
}

// StatusError is a non-200 answer.
type StatusError struct {
	Code int
	Body string
	Path string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %d %s: %s", e.Path, e.Code, http.StatusText(e.Code), e.Body)
}

// Close stops forwarding and waits for the forwarder to end.
func (t *Tunnel) Close() {
	t.stopOnce.Do(func() { close(t.stop) })
	<-t.done
}

func portForwardURL(cfg *rest.Config, namespace, name string) (*url.URL, error) {
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, err
	}
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/portforward", url.PathEscape(namespace), url.PathEscape(name))
	return &u, nil
}

// portForwardDialer prefers WebSockets and falls back to SPDY, as kubectl
// port-forward does.
func portForwardDialer(cfg *rest.Config, u *url.URL) (httpstream.Dialer, error) {
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	wsDialer, err := portforward.NewSPDYOverWebsocketDialer(u, cfg)
	if err != nil {
		return nil, err
	}
	return portforward.NewFallbackDialer(wsDialer, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	}), nil
}
