package serving

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
)

func TestPrivateValidate(t *testing.T) {
	t.Parallel()
	protect := func(h http.Handler) http.Handler { return h }
	cases := map[string]struct {
		p    Private
		addr string
		want string
	}{
		"open on loopback":   {Private{}, "127.0.0.1:8444", ""},
		"open on ::1":        {Private{}, "[::1]:0", ""},
		"open on localhost":  {Private{}, "localhost:8890", ""},
		"open on all":        {Private{}, ":8444", "open to the network"},
		"open on a pod IP":   {Private{}, "10.244.1.7:8444", "open to the network"},
		"bad address":        {Private{}, "8444", "private endpoints address"},
		"protected, no TLS":  {Private{Protect: protect}, ":8444", "clear text"},
		"protected over TLS": {Private{Protect: protect, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}, ":8444", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.p.Validate(tc.addr)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPrivateServer(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	if s := (Private{}).Server(mux, 0); s.TLSConfig != nil || s.Handler != mux {
		t.Error("an open Private must serve mux in plain HTTP")
	}
	wrapped := false
	p := Private{TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}, Protect: func(h http.Handler) http.Handler { wrapped = true; return h }}
	if s := p.Server(mux, 0); s.TLSConfig == nil || s.TLSConfig == p.TLSConfig || !wrapped || s.ReadTimeout != ReadTimeout {
		t.Error("a protected Private must serve a TLS clone behind Protect, with every timeout")
	}
}
