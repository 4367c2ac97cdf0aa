package access

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
)

// reviewBackoff retries a TokenReview or SubjectAccessReview the API server
// could not answer (k8s.io/apiserver's DefaultAuthWebhookRetryBackoff).
var reviewBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}

// NewDelegating returns a Guard that asks the API server: client
// certificates are verified against the cluster's client CA (followed
// until ctx ends), bearer tokens by TokenReview, every request by
// SubjectAccessReview. The caller's identity needs the ClusterRole
// system:auth-delegator and, in kube-system, the Role
// extension-apiserver-authentication-reader.
func NewDelegating(ctx context.Context, kube kubernetes.Interface, o Options, log logr.Logger, reg prometheus.Registerer) (*Guard, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("access options: %w", err)
	}
	backoff := reviewBackoff
	authnCfg := authenticatorfactory.DelegatingAuthenticatorConfig{
		TokenAccessReviewClient:  kube.AuthenticationV1(),
		TokenAccessReviewTimeout: o.ReviewTimeout,
		WebhookRetryBackoff:      &backoff,
		CacheTTL:                 o.TokenCacheTTL,
	}
	if o.ClientCAConfigMap != "" {
		ns, name, _ := o.clientCA() // checked by Validate
		ca, err := dynamiccertificates.NewDynamicCAFromConfigMapController("client-ca", ns, name, o.ClientCAKey, kube)
		if err != nil {
			return nil, fmt.Errorf("following the client CA in ConfigMap %s: %w", o.ClientCAConfigMap, err)
		}
		if err := ca.RunOnce(ctx); err != nil {
			// Not fatal: bearer tokens still work, and Run keeps trying.
			log.Error(err, "client certificates are refused until the client CA can be read", "configMap", o.ClientCAConfigMap, "key", o.ClientCAKey)
		}
		go ca.Run(ctx, 1)
		authnCfg.ClientCertificateCAContentProvider = ca
	}
	authn, _, err := authnCfg.New()
	if err != nil {
		return nil, fmt.Errorf("building the delegating authenticator: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: kube.AuthorizationV1(),
		AllowCacheTTL:             o.AllowCacheTTL,
		DenyCacheTTL:              o.DenyCacheTTL,
		WebhookRetryBackoff:       &backoff,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("building the delegating authorizer: %w", err)
	}
	return NewGuard(authn, authz, log, reg)
}
