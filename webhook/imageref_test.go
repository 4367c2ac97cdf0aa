package webhook

import "testing"

func TestImageRepository(t *testing.T) {
	t.Parallel()
	const digest = "@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
	tests := map[string]string{
		"hetida/designer-runtime":                                         "hetida/designer-runtime",
		"hetida/designer-runtime:0.9.7":                                   "hetida/designer-runtime",
		"hetida/designer-runtime" + digest:                                "hetida/designer-runtime",
		"hetida/designer-runtime:0.9.7" + digest:                          "hetida/designer-runtime",
		"localhost/hetida/designer-runtime":                               "hetida/designer-runtime",
		"localhost:5000/hetida/designer-runtime":                          "hetida/designer-runtime",
		"localhost:5000/hetida/designer-runtime:0.9.7":                    "hetida/designer-runtime",
		"localhost:5000/hetida/designer-runtime" + digest:                 "hetida/designer-runtime",
		"registry.example:5000/mirror/hetida/designer-runtime:1" + digest: "mirror/hetida/designer-runtime",
		"registry.example/hetida/designer-runtime:latest":                 "hetida/designer-runtime",
		"[::1]:5000/hetida/designer-runtime:0.9":                          "hetida/designer-runtime",
		"Registry/hetida/designer-runtime":                                "hetida/designer-runtime", // uppercase: a host
		"busybox":                                                         "busybox",
		"busybox:1.36":                                                    "busybox",
		"localhost:5000/busybox":                                          "busybox",
		" hetida/designer-runtime:0.9.7 ":                                 "hetida/designer-runtime",
		"":                                                                "",
		"hetida/designer-runtime:":                                        "hetida/designer-runtime",
		"registry.example:5000/hetida/designer-runtime":                   "hetida/designer-runtime", // port, no tag
	}
	for ref, want := range tests {
		if got := ImageRepository(ref); got != want {
			t.Errorf("ImageRepository(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestRepositoryMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		repo, rule string
		want       bool
	}{
		{"hetida/designer-runtime", "hetida/designer-runtime", true},
		{"mirror/hetida/designer-runtime", "hetida/designer-runtime", true},
		{"hetida/designer-runtime-custom", "hetida/designer-runtime", false},
		{"xhetida/designer-runtime", "hetida/designer-runtime", false},
		{"designer-runtime", "hetida/designer-runtime", false},
		{"hetida/designer-backend", "hetida/designer-runtime", false},
	}
	for _, tt := range tests {
		if got := repositoryMatches(tt.repo, tt.rule); got != tt.want {
			t.Errorf("repositoryMatches(%q, %q) = %v, want %v", tt.repo, tt.rule, got, tt.want)
		}
	}
}

func FuzzImageRepository(f *testing.F) {
	for _, s := range []string{"hetida/designer-runtime:0.9", "localhost:5000/a/b@sha256:00", "[::1]:5000/x", "a:b:c/d@e@f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		repo := ImageRepository(ref)
		if len(repo) > len(ref) {
			t.Fatalf("repository %q longer than reference %q", repo, ref)
		}
	})
}
