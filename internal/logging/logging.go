// Package logging builds the one structured logger a process passes down.
package logging

import (
	"fmt"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options select the log format and verbosity.
type Options struct {
	// Level is debug, info or error.
	Level string
	// Development selects human-readable console output instead of JSON.
	Development bool
}

// Validate reports a bad level.
func (o Options) Validate() error {
	_, err := zapcore.ParseLevel(o.Level)
	if err != nil {
		return fmt.Errorf("log level %q: must be debug, info or error", o.Level)
	}
	return nil
}

// New returns a logr.Logger backed by zap and a function that flushes it.
func New(o Options) (logr.Logger, func(), error) {
	lvl, err := zapcore.ParseLevel(o.Level)
	if err != nil {
		return logr.Discard(), func() {}, fmt.Errorf("log level %q: must be debug, info or error", o.Level)
	}
	cfg := zap.NewProductionConfig()
	if o.Development {
		cfg = zap.NewDevelopmentConfig()
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	z, err := cfg.Build()
	if err != nil {
		return logr.Discard(), func() {}, fmt.Errorf("building zap logger: %w", err)
	}
	return zapr.NewLogger(z), func() { _ = z.Sync() }, nil
}
