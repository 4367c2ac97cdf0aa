package access

import (
	"net/http"
	"strings"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Decisions counted by hdscale_private_requests_total.
const (
	DecisionAllowed         = "allowed"
	DecisionUnauthenticated = "unauthenticated"
	DecisionForbidden       = "forbidden"
	DecisionError           = "error"
)

// Guard authenticates and authorizes requests to private endpoints.
type Guard struct {
	authn    authenticator.Request
	authz    authorizer.UnconditionalAuthorizer
	log      logr.Logger
	requests *prometheus.CounterVec
}

// NewGuard returns a Guard deciding with authn and authz, counting its
// decisions on reg.
func NewGuard(authn authenticator.Request, authz authorizer.UnconditionalAuthorizer, log logr.Logger, reg prometheus.Registerer) (*Guard, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hdscale_private_requests_total",
		Help: "Requests to the private endpoints (/metrics, /explain, /debug/pprof) by decision: allowed, unauthenticated (401), forbidden (403), error (500: the API server could not be asked).",
	}, []string{"decision"})
	for _, d := range []string{DecisionAllowed, DecisionUnauthenticated, DecisionForbidden, DecisionError} {
		requests.WithLabelValues(d)
	}
	if err := reg.Register(requests); err != nil {
		return nil, err
	}
	return &Guard{authn: authn, authz: authz, log: log, requests: requests}, nil
}

// Wrap returns h behind the guard: a request without a valid client
// certificate or bearer token gets 401, one whose user may not use the
// request's verb on its path gets 403, and the rest reach h (without their
// Authorization header).
func (g *Guard) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok, err := g.authn.AuthenticateRequest(r)
		if err != nil || !ok {
			g.requests.WithLabelValues(DecisionUnauthenticated).Inc()
			g.log.V(1).Info("refused: not authenticated", "path", r.URL.Path, "remote", r.RemoteAddr, "err", errString(err))
			http.Error(w, "Unauthorized: present a client certificate of the cluster's client CA or a bearer token the API server accepts", http.StatusUnauthorized)
			return
		}
		attrs := authorizer.AttributesRecord{
			User:            resp.User,
			Verb:            strings.ToLower(r.Method),
			Path:            r.URL.Path,
			ResourceRequest: false,
		}
		decision, reason, err := g.authz.Authorize(r.Context(), attrs)
		switch {
		case decision == authorizer.DecisionAllow:
			g.requests.WithLabelValues(DecisionAllowed).Inc()
			r.Header.Del("Authorization")
			h.ServeHTTP(w, r)
		case err != nil:
			g.requests.WithLabelValues(DecisionError).Inc()
			g.log.Error(err, "authorizing a private request", "path", r.URL.Path, "user", resp.User.GetName())
			http.Error(w, "Internal Server Error: authorization failed", http.StatusInternalServerError)
		default:
			g.requests.WithLabelValues(DecisionForbidden).Inc()
			g.log.V(1).Info("refused: forbidden", "path", r.URL.Path, "user", resp.User.GetName(), "reason", reason)
			http.Error(w, "Forbidden: user "+resp.User.GetName()+" may not "+attrs.Verb+" "+r.URL.Path+
				" (grant the ClusterRole hdscale-metrics-reader)", http.StatusForbidden)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
