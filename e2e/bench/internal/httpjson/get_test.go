package httpjson

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(`{"workers":3}`))
		case "/bad":
			_, _ = w.Write([]byte(`{"workers":`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		path, wantErr string
		want          int
	}{
		{path: "/ok", want: 3},
		{path: "/bad", wantErr: "decoding the answer"},
		{path: "/missing", wantErr: "404 Not Found"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			var v struct{ Workers int }
			err := Get(context.Background(), srv.Client(), srv.URL+tc.path, &v)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Get: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.path)):
				t.Fatalf("Get error %v, want one naming %s and %q", err, tc.path, tc.wantErr)
			case v.Workers != tc.want:
				t.Fatalf("workers = %d, want %d", v.Workers, tc.want)
			}
		})
	}
}
