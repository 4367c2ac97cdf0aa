package access

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// tokenAuthn knows one bearer token.
type tokenAuthn struct {
	token string
	user  user.Info
	err   error
}

func (a tokenAuthn) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	if a.err != nil {
		return nil, false, a.err
	}
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		return nil, false, nil
	}
	return &authenticator.Response{User: a.user}, true, nil
}

// pathAuthz allows users their listed "verb path" pairs.
type pathAuthz struct {
	allowed map[string][]string
	err     error
	seen    *authorizer.AttributesRecord
}

func (a pathAuthz) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.seen != nil {
		*a.seen = authorizer.AttributesRecord{User: attrs.GetUser(), Verb: attrs.GetVerb(), Path: attrs.GetPath(), ResourceRequest: attrs.IsResourceRequest()}
	}
	if a.err != nil {
		return authorizer.DecisionNoOpinion, "", a.err
	}
	for _, p := range a.allowed[attrs.GetUser().GetName()] {
		if p == attrs.GetVerb()+" "+attrs.GetPath() {
			return authorizer.DecisionAllow, "", nil
		}
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

func TestGuardWrap(t *testing.T) {
	t.Parallel()
	reader := &user.DefaultInfo{Name: "system:serviceaccount:monitoring:prometheus"}
	cases := map[string]struct {
		authn       tokenAuthn
		authz       pathAuthz
		method      string
		path        string
		token       string
		wantCode    int
		wantBody    string
		wantCount   string
		wantReached bool
	}{
		"no credentials": {
			authn: tokenAuthn{token: "t", user: reader}, path: "/metrics",
			wantCode: 401, wantBody: "Unauthorized", wantCount: DecisionUnauthenticated,
		},
		"unknown token": {
			authn: tokenAuthn{token: "t", user: reader}, path: "/metrics", token: "other",
			wantCode: 401, wantBody: "Unauthorized", wantCount: DecisionUnauthenticated,
		},
		"token review failed": {
			authn: tokenAuthn{err: errors.New("TokenReview: connection refused")}, path: "/metrics", token: "t",
			wantCode: 401, wantBody: "Unauthorized", wantCount: DecisionUnauthenticated,
		},
		"authenticated, not granted": {
			authn: tokenAuthn{token: "t", user: reader}, authz: pathAuthz{allowed: map[string][]string{reader.Name: {"get /metrics"}}},
			path: "/explain", token: "t",
			wantCode: 403, wantBody: "may not get /explain", wantCount: DecisionForbidden,
		},
		"wrong verb": {
			authn: tokenAuthn{token: "t", user: reader}, authz: pathAuthz{allowed: map[string][]string{reader.Name: {"get /metrics"}}},
			method: http.MethodPost, path: "/metrics", token: "t",
			wantCode: 403, wantBody: "may not post /metrics", wantCount: DecisionForbidden,
		},
		"granted": {
			authn: tokenAuthn{token: "t", user: reader}, authz: pathAuthz{allowed: map[string][]string{reader.Name: {"get /metrics"}}},
			path: "/metrics", token: "t",
			wantCode: 200, wantBody: "served", wantCount: DecisionAllowed, wantReached: true,
		},
		"authorizer failed": {
			authn: tokenAuthn{token: "t", user: reader}, authz: pathAuthz{err: errors.New("SubjectAccessReview: timeout")},
			path: "/metrics", token: "t",
			wantCode: 500, wantBody: "authorization failed", wantCount: DecisionError,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			seen := &authorizer.AttributesRecord{}
			tc.authz.seen = seen
			g, err := NewGuard(tc.authn, tc.authz, logr.Discard(), reg)
			if err != nil {
				t.Fatal(err)
			}
			reached := false
			h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				if r.Header.Get("Authorization") != "" {
					t.Error("the Authorization header reached the handler")
				}
				_, _ = w.Write([]byte("served"))
			}))
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("got %d %q, want %d containing %q", rec.Code, rec.Body.String(), tc.wantCode, tc.wantBody)
			}
			if reached != tc.wantReached {
				t.Errorf("handler reached: %v, want %v", reached, tc.wantReached)
			}
			if got := testutil.ToFloat64(g.requests.WithLabelValues(tc.wantCount)); got != 1 {
				t.Errorf("hdscale_private_requests_total{decision=%q} = %v, want 1", tc.wantCount, got)
			}
			if tc.wantCode == 403 || tc.wantCode == 200 {
				if seen.ResourceRequest || seen.Path != tc.path || seen.Verb != strings.ToLower(method) {
					t.Errorf("authorizer asked %+v, want non-resource %s %s", seen, strings.ToLower(method), tc.path)
				}
			}
		})
	}
}

func TestNewGuardRegistersOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := NewGuard(tokenAuthn{}, pathAuthz{}, logr.Discard(), reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewGuard(tokenAuthn{}, pathAuthz{}, logr.Discard(), reg); err == nil {
		t.Fatal("a second Guard on one registry: no error")
	}
}
