package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// version is what GET /engine/info reports; it says "fake" on purpose.
const version = "0.0.0-hdscale-fake"

const (
	defaultPort       = 8090
	defaultWorkers    = 1
	maxWorkers        = 1024
	defaultMaxBody    = 64 << 20
	defaultMaxWork    = time.Hour
	defaultShutdown   = 25 * time.Second
	defaultReadHeader = 10 * time.Second
)

// Where the worker count came from.
const (
	workersFromDefault = "default"
	workersFromEnv     = "WEB_CONCURRENCY"
	workersFromFlag    = "flag"
)

// config is everything the fake runtime starts with.
type config struct {
	Port              int
	Workers           int
	WorkersSource     string
	ShutdownTimeout   time.Duration // graceful drain budget after SIGTERM
	ReadHeaderTimeout time.Duration
	MaxBodyBytes      int64         // execution request bodies larger than this get 413
	MaxWork           time.Duration // upper bound for cpu and wall time of one execution
	Node, Pod         string        // NODE_NAME, POD_NAME (downward API)
	Env               []string      // the environment the process was given, KEY=VALUE
}

// Validate reports the first setting the fake cannot run with.
func (c config) Validate() error {
	switch {
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("port %d out of range 0..65535", c.Port)
	case c.Workers < 1 || c.Workers > maxWorkers:
		return fmt.Errorf("workers %d out of range 1..%d", c.Workers, maxWorkers)
	case c.ShutdownTimeout <= 0:
		return fmt.Errorf("shutdown timeout must be positive, got %s", c.ShutdownTimeout)
	case c.ReadHeaderTimeout <= 0:
		return fmt.Errorf("read header timeout must be positive, got %s", c.ReadHeaderTimeout)
	case c.MaxBodyBytes <= 0:
		return fmt.Errorf("max body bytes must be positive, got %d", c.MaxBodyBytes)
	case c.MaxWork <= 0:
		return fmt.Errorf("max work must be positive, got %s", c.MaxWork)
	}
	return nil
}

// parseConfig builds the config from command-line flags and the environment.
// Flags win over the environment, the environment over defaults. A variable
// that is present but not a valid number is an error, like it is for the real
// runtime's uvicorn/gunicorn, so a bad injected WEB_CONCURRENCY shows up.
func parseConfig(args, env []string, errOut io.Writer) (config, error) {
	c := config{
		ShutdownTimeout:   defaultShutdown,
		ReadHeaderTimeout: defaultReadHeader,
		MaxBodyBytes:      defaultMaxBody,
		MaxWork:           defaultMaxWork,
		Env:               env,
	}
	vars := envMap(env)
	c.Node, c.Pod = vars["NODE_NAME"], vars["POD_NAME"]

	fs := flag.NewFlagSet("fakeruntime", flag.ContinueOnError)
	fs.SetOutput(errOut)
	port := fs.Int("port", defaultPort, "listen port; overrides $PORT")
	workers := fs.Int("workers", defaultWorkers, "worker pool size; overrides $WEB_CONCURRENCY")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout,
		"after SIGTERM, how long running and queued executions may finish before they are aborted")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", c.MaxBodyBytes, "largest accepted execution request body")
	fs.DurationVar(&c.MaxWork, "max-work", c.MaxWork, "largest cpu or wall time one execution may request")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var err error
	c.Port, err = intSetting(set["port"], *port, vars, "PORT", defaultPort)
	if err != nil {
		return config{}, err
	}
	c.Workers, err = intSetting(set["workers"], *workers, vars, "WEB_CONCURRENCY", defaultWorkers)
	if err != nil {
		return config{}, err
	}
	_, fromEnv := vars["WEB_CONCURRENCY"]
	switch {
	case set["workers"]:
		c.WorkersSource = workersFromFlag
	case fromEnv:
		c.WorkersSource = workersFromEnv
	default:
		c.WorkersSource = workersFromDefault
	}
	if err := c.Validate(); err != nil {
		return config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, nil
}

// intSetting picks the flag value if the flag was given, else the variable if
// present, else def.
func intSetting(flagSet bool, flagValue int, vars map[string]string, name string, def int) (int, error) {
	if flagSet {
		return flagValue, nil
	}
	s, ok := vars[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("environment variable %s=%q is not an integer", name, s)
	}
	return n, nil
}

// envMap turns KEY=VALUE entries into a map; the first entry of a key wins,
// as with os.Getenv. Entries without "=" or with an empty key are skipped.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return m
}
