package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestBody(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{kindHuge, kindOversize, kindMalformed, kindDeep} {
		b, err := body(kind, 4096)
		if err != nil {
			t.Fatal(err)
		}
		want := 4096
		if kind == kindOversize {
			want++
		}
		if len(b) != want {
			t.Errorf("%s: %d bytes, want %d", kind, len(b), want)
		}
		valid := json.Valid(b)
		if wantValid := kind == kindHuge || kind == kindOversize || kind == kindDeep; valid != wantValid {
			t.Errorf("%s: valid JSON %v, want %v", kind, valid, wantValid)
		}
	}
	if _, err := body("gzip", 10); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestGetSendsTheToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "ok\nmore")
	}))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	urls := srv.URL + "/a," + srv.URL + "/b,https://127.0.0.1:1/c"
	if err := run(context.Background(), []string{"get", "-url", urls, "-token-file", tok}, &out); err != nil ||
		out.String() != srv.URL+"/a 200\n"+srv.URL+"/b 200\nhttps://127.0.0.1:1/c error\n" {
		t.Errorf("with token: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"get", "-url", srv.URL}, &out); err != nil || out.String() != srv.URL+" 401\n" {
		t.Errorf("without token: %v %q", err, out.String())
	}
}

func TestFloodCounts(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
		if len(b) == 4096 && json.Valid(b) {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusRequestEntityTooLarge)
	}))
	defer srv.Close()
	for kind, want := range map[string]string{kindHuge: "200=7\n", kindOversize: "413=7\n"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"flood", "-url", srv.URL, "-kind", kind, "-size", "4096", "-n", "7", "-c", "3"}, &out); err != nil || out.String() != want {
			t.Errorf("%s: %v %q, want %q", kind, err, out.String(), want)
		}
	}
}

func TestFloods(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if json.Valid(b) {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	var out bytes.Buffer
	spec := "-url=" + srv.URL + " -kind=huge -size=512 -n=3;-url=" + srv.URL + " -kind=malformed -size=512 -n=2 -c=1"
	if err := run(context.Background(), []string{"floods", spec}, &out); err != nil || out.String() != "0 200=3\n1 400=2\n" {
		t.Errorf("floods: %v %q", err, out.String())
	}
}
