package certs

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
)

// waitingForOwnersError is why no Secret is made while none of the webhook
// configurations that own it exists: a normal, passing state (a fresh
// `kubectl apply -k` creates the configurations seconds after the
// Deployment; an uninstall deletes them first), reported by readiness and
// logged at info level rather than as a failure.
type waitingForOwnersError struct {
	secret, configurations string
}

func (e *waitingForOwnersError) Error() string {
	return fmt.Sprintf("Secret %s: not creating it while none of the webhook configurations (%s) exists; "+
		"they own it (an uninstall in progress, or the manifests not applied yet)", e.secret, e.configurations)
}

// logRetry logs a failed reconcile that will be retried in delay: waiting
// for the owner configurations at info level, anything else as an error.
func logRetry(log logr.Logger, err error, delay time.Duration) {
	var waiting *waitingForOwnersError
	if errors.As(err, &waiting) {
		log.Info("waiting for a webhook configuration before creating the TLS Secret", "reason", err.Error(), "retryIn", delay.String())
		return
	}
	log.Error(err, "certificate reconcile failed; retrying", "retryIn", delay.String())
}
