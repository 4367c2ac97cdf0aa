package certs

import (
	"slices"
	"strings"
)

// DNSNames are the SANs of the serving certificate: the Service's in-cluster names (svc, svc.ns,
// svc.ns.svc, svc.ns.svc.<cluster domain>) followed by ExtraDNSNames, lower-cased, without
// duplicates.
func (o Options) DNSNames() []string {
	svc, ns := o.ServiceName, o.Namespace
	domain := o.ClusterDomain
	if domain == "" {
		domain = DefaultClusterDomain
	}
	all := append([]string{
		svc,
		svc + "." + ns,
		svc + "." + ns + ".svc",
		svc + "." + ns + ".svc." + domain,
	}, o.ExtraDNSNames...)
	out := make([]string, 0, len(all))
	for _, n := range all {
		n = strings.ToLower(n)
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// missingNames returns the entries of want that have is lacking (case-insensitively).
func missingNames(have, want []string) []string {
	var missing []string
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			missing = append(missing, w)
		}
	}
	return missing
}

// unionNames returns want followed by the entries of have not in want, the latter sorted.
// Replicas configured with different names (during a rollout) so converge on a certificate that
// satisfies all of them instead of reissuing it back and forth.
func unionNames(want, have []string) []string {
	extra := missingNames(want, have)
	for i := range extra {
		extra[i] = strings.ToLower(extra[i])
	}
	slices.Sort(extra)
	extra = slices.Compact(extra)
	return append(slices.Clone(want), extra...)
}

// commonName picks a certificate CommonName from the SANs: the first name that fits the X.509
// 64-character limit, preferring svc.ns.svc (the name the API server dials).
func commonName(names []string) string {
	if len(names) > 2 && len(names[2]) <= 64 {
		return names[2]
	}
	for _, n := range names {
		if len(n) <= 64 {
			return n
		}
	}
	return ""
}
