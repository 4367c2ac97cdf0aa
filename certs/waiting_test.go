package certs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
)

func TestLogRetry(t *testing.T) {
	t.Parallel()
	waiting := &waitingForOwnersError{secret: "hdscale-system/hdscale-webhook-tls", configurations: "mutating/hdscale"}
	for _, tc := range []struct {
		name string
		err  error
		want string // the start of the one log line
	}{
		{"waiting for the configurations is info", waiting,
			`"level"=0 "msg"="waiting for a webhook configuration before creating the TLS Secret" "reason"="Secret hdscale-system/hdscale-webhook-tls: not creating it while none of the webhook configurations (mutating/hdscale) exists;`},
		{"also when wrapped", fmt.Errorf("reconcile: %w", waiting), `"level"=0 "msg"="waiting for a webhook configuration`},
		{"anything else is an error", errors.New("secrets is forbidden"),
			`"msg"="certificate reconcile failed; retrying" "error"="secrets is forbidden" "retryIn"="2s"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var lines []string
			log := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 1})
			logRetry(log, tc.err, 2*time.Second)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
				t.Fatalf("logged %q, want one line starting %q", lines, tc.want)
			}
		})
	}
}
