package access

import (
	"strings"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		mutate func(*Options)
		want   []string
	}{
		"defaults":         {func(*Options) {}, nil},
		"tokens only":      {func(o *Options) { o.ClientCAConfigMap = "" }, nil},
		"zero ttl":         {func(o *Options) { o.AllowCacheTTL = 0 }, []string{"AllowCacheTTL 0s"}},
		"huge ttl":         {func(o *Options) { o.TokenCacheTTL = 48 * time.Hour }, []string{"TokenCacheTTL 48h0m0s"}},
		"no namespace":     {func(o *Options) { o.ClientCAConfigMap = "/x" }, []string{`ClientCAConfigMap "/x"`}},
		"no name":          {func(o *Options) { o.ClientCAConfigMap = "kube-system" }, []string{`ClientCAConfigMap "kube-system"`}},
		"too many slashes": {func(o *Options) { o.ClientCAConfigMap = "a/b/c" }, []string{`ClientCAConfigMap "a/b/c"`}},
		"no key":           {func(o *Options) { o.ClientCAKey = "" }, []string{"ClientCAKey: empty"}},
		"several at once":  {func(o *Options) { o.DenyCacheTTL, o.ReviewTimeout = 0, 0 }, []string{"DenyCacheTTL", "ReviewTimeout"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := Default()
			tc.mutate(&o)
			err := o.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
