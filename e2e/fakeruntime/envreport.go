package main

// reportedEnv are the variables GET /engine/env always reports, null when
// unset: what hdscale's webhook injects or reads and what the real runtime's
// worker count depends on.
var reportedEnv = []string{
	"WEB_CONCURRENCY",
	"MAX_WORKERS",
	"WORKERS_PER_CORE",
	"HD_IS_BACKEND_SERVICE",
	"HD_IS_RUNTIME_SERVICE",
	"POD_NAME",
	"POD_NAMESPACE",
	"NODE_NAME",
	"PORT",
	"GOMAXPROCS",
	"GOMEMLIMIT",
	"HOSTNAME",
}

// envReport is the body of GET /engine/env.
type envReport struct {
	Env               map[string]*string `json:"env"`
	All               map[string]string  `json:"all,omitempty"`
	Workers           int                `json:"workers"`
	WorkersSource     string             `json:"workers_source"`
	GOMAXPROCS        int                `json:"gomaxprocs"`
	GOMAXPROCSAtStart int                `json:"gomaxprocs_at_start"`
	NumCPU            int                `json:"num_cpu"`
	BurnMode          string             `json:"burn_mode"`
	PID               int                `json:"pid"`
	Hostname          string             `json:"hostname"`
	Node              string             `json:"node"`
	Pod               string             `json:"pod"`
}

// buildEnvReport reports the environment c was started with; all adds every
// variable. gomaxprocs and numCPU are the current values.
func buildEnvReport(c config, f runtimeFacts, gomaxprocs, numCPU int, all bool) envReport {
	vars := envMap(c.Env)
	r := envReport{
		Env:               make(map[string]*string, len(reportedEnv)),
		Workers:           c.Workers,
		WorkersSource:     c.WorkersSource,
		GOMAXPROCS:        gomaxprocs,
		GOMAXPROCSAtStart: f.GOMAXPROCSAtStart,
		NumCPU:            numCPU,
		BurnMode:          f.BurnMode,
		PID:               f.PID,
		Hostname:          f.Hostname,
		Node:              c.Node,
		Pod:               c.Pod,
	}
	for _, k := range reportedEnv {
		if v, ok := vars[k]; ok {
			r.Env[k] = &v
		} else {
			r.Env[k] = nil
		}
	}
	if all {
		r.All = vars
	}
	return r
}
