package extender

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*Options)
		want string // substring of the error; "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"hot threshold on", func(o *Options) { o.HotThreshold = 0.8 }, ""},
		{"explicit max age", func(o *Options) { o.MetricsMaxAge = time.Minute }, ""},
		{"bad listen", func(o *Options) { o.ListenAddr = "8888" }, "listen address"},
		{"bad health", func(o *Options) { o.HealthAddr = "" }, "health address"},
		{"same addresses", func(o *Options) { o.HealthAddr = o.ListenAddr }, "must differ"},
		{"short interval", func(o *Options) { o.MetricsInterval = time.Millisecond }, "metrics interval"},
		{"max age below interval", func(o *Options) { o.MetricsMaxAge = time.Second }, "metrics max age"},
		{"negative max age", func(o *Options) { o.MetricsMaxAge = -time.Second }, "metrics max age"},
		{"tolerance 1", func(o *Options) { o.ShapeTolerance = 1 }, "shape tolerance"},
		{"tolerance negative", func(o *Options) { o.ShapeTolerance = -0.1 }, "shape tolerance"},
		{"tolerance NaN", func(o *Options) { o.ShapeTolerance = math.NaN() }, "shape tolerance"},
		{"hot above 1", func(o *Options) { o.HotThreshold = 1.5 }, "hot threshold"},
		{"hot NaN", func(o *Options) { o.HotThreshold = math.NaN() }, "hot threshold"},
		{"short ttl", func(o *Options) { o.ReservationTTL = 0 }, "reservation TTL"},
		{"tiny body", func(o *Options) { o.MaxBodyBytes = 10 }, "max body"},
		{"body budget below one body", func(o *Options) { o.MaxBodyBytesInFlight = o.MaxBodyBytes - 1 }, "max body bytes in flight"},
		{"no history", func(o *Options) { o.ExplainHistory = 0 }, "explain history"},
		{"no clock", func(o *Options) { o.Clock = nil }, "clock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := Default()
			tt.mod(&o)
			err := o.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v does not mention %q", err, tt.want)
			}
		})
	}
}

func TestOptionsMaxAge(t *testing.T) {
	t.Parallel()
	o := Default()
	if got := o.MaxAge(); got != 45*time.Second {
		t.Errorf("default max age = %v, want 3 × 15s", got)
	}
	o.MetricsMaxAge = 2 * time.Minute
	if got := o.MaxAge(); got != 2*time.Minute {
		t.Errorf("explicit max age = %v", got)
	}
	d := Default()
	if d.ListenAddr != "127.0.0.1:8888" || d.HealthAddr != ":8889" || d.MetricsInterval != 15*time.Second ||
		d.ShapeTolerance != 0.05 || d.HotThreshold != 0 || d.ReservationTTL != time.Minute {
		t.Errorf("defaults differ from the documented ones: %+v", d)
	}
}
