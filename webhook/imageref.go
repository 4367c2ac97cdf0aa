package webhook

import "strings"

// ImageRepository returns the repository path of an image reference, without
// registry host, tag or digest:
//
//	hetida/designer-runtime                          -> hetida/designer-runtime
//	hetida/designer-runtime:0.9.7                    -> hetida/designer-runtime
//	localhost:5000/hetida/designer-runtime:0.9       -> hetida/designer-runtime
//	registry.example:5000/mirror/hetida/designer-runtime@sha256:… -> mirror/hetida/designer-runtime
//
// It follows the Docker reference grammar: the digest starts at "@"; the tag
// is the part after the last ":" that follows the last "/" (so a registry
// port is not mistaken for a tag); the first "/"-separated component is a
// registry host when it contains "." or ":", is "localhost", or has an
// uppercase letter. It does not validate the reference; a malformed one simply
// gives a repository no rule matches.
func ImageRepository(ref string) string {
	ref = strings.TrimSpace(ref)
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	if i := strings.IndexByte(ref, '/'); i >= 0 && isRegistryHost(ref[:i]) {
		ref = ref[i+1:]
	}
	return ref
}

func isRegistryHost(s string) bool {
	return s == "localhost" || strings.ContainsAny(s, ".:") || strings.ToLower(s) != s
}

// repositoryMatches reports whether repository repo is rule or ends in "/"+rule.
func repositoryMatches(repo, rule string) bool {
	if len(repo) == len(rule) {
		return repo == rule
	}
	return len(repo) > len(rule) && repo[len(repo)-len(rule)-1] == '/' && strings.HasSuffix(repo, rule)
}
