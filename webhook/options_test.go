package webhook

import (
	"strings"
	"testing"

	"github.com/hdscale/hdscale/internal/access"
	"github.com/hdscale/hdscale/internal/serving"
)

func TestOptions(t *testing.T) {
	t.Parallel()
	var o Options
	o.Default()
	o.Private = access.Planned(access.ModeDelegated)
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if o.ListenAddr != ":8443" || o.HealthAddr != ":8081" || o.SchedulerName != "hdscale-scheduler" || o.MaxRequestBytes != 3<<20 || o.Clock == nil {
		t.Errorf("defaults = %+v", o)
	}
	bad := Config{Runtime: Rules{Images: []string{"Bad:tag"}}}
	tests := map[string]struct {
		mutate func(*Options)
		want   []string
	}{
		"addresses":                    {func(o *Options) { o.ListenAddr, o.HealthAddr = "8443", "localhost" }, []string{`ListenAddr "8443"`, `HealthAddr "localhost"`}},
		"same port":                    {func(o *Options) { o.HealthAddr = o.ListenAddr }, []string{"ListenAddr and HealthAddr are both"}},
		"metrics on the health port":   {func(o *Options) { o.MetricsAddr = o.HealthAddr }, []string{"HealthAddr and MetricsAddr are both"}},
		"open metrics beyond loopback": {func(o *Options) { o.MetricsAddr, o.Private = ":8444", serving.Private{} }, []string{"open to the network"}},
		"scheduler":                    {func(o *Options) { o.SchedulerName = "Hdscale Scheduler" }, []string{"SchedulerName"}},
		"namespace":                    {func(o *Options) { o.Namespace = "a.b" }, []string{"Namespace"}},
		"body cap":                     {func(o *Options) { o.MaxRequestBytes = 10 }, []string{"MaxRequestBytes"}},
		"resync":                       {func(o *Options) { o.ResyncPeriod = -1 }, []string{"ResyncPeriod"}},
		"config":                       {func(o *Options) { o.Config = &bad }, []string{"runtime.images"}},
		"clock":                        {func(o *Options) { o.Clock = nil }, []string{"Clock"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := Options{}
			o.Default()
			o.Private = access.Planned(access.ModeDelegated)
			tt.mutate(&o)
			err := o.Validate()
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}
