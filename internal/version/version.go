// Package version says which hdscale a binary is: the release version set
// at build time (make build: -X .../internal/version.Version=$(VERSION)) and
// the VCS revision Go records in the binary.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version is the hdscale release ("dev" when built without make).
var Version = "dev"

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
}

// Get returns the binary's Info.
func Get() Info {
	i := Info{Version: Version, Revision: "unknown", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	return i
}

// String is the one line --version prints.
func (i Info) String() string {
	rev := i.Revision
	if i.Modified {
		rev += "-dirty"
	}
	return fmt.Sprintf("hdscale %s (revision %s, %s)", i.Version, rev, i.GoVersion)
}

// Collector exports hdscale_build_info{version,revision,goversion} 1.
func Collector() prometheus.Collector {
	i := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "hdscale_build_info",
		Help:        "Always 1; the labels say which hdscale build runs.",
		ConstLabels: prometheus.Labels{"version": i.Version, "revision": i.Revision, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}
