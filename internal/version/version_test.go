package version

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestInfoAndCollector(t *testing.T) {
	t.Parallel()
	i := Get()
	if i.Version != Version || i.GoVersion == "" || i.Revision == "" {
		t.Errorf("Get() = %+v", i)
	}
	if s := i.String(); !strings.HasPrefix(s, "hdscale "+Version+" (revision ") {
		t.Errorf("String() = %q", s)
	}
	if s := (Info{Version: "1.2.3", Revision: "abc", Modified: true, GoVersion: "go1.26"}).String(); s != "hdscale 1.2.3 (revision abc-dirty, go1.26)" {
		t.Errorf("dirty String() = %q", s)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector())
	want := `# HELP hdscale_build_info Always 1; the labels say which hdscale build runs.
# TYPE hdscale_build_info gauge
hdscale_build_info{goversion="` + i.GoVersion + `",revision="` + i.Revision + `",version="` + i.Version + `"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hdscale_build_info"); err != nil {
		t.Error(err)
	}
}
