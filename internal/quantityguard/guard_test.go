package quantityguard

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("9", MaxDigits+1)
	for _, tc := range []struct {
		name, doc string
		err       string // "" for none, else the start of the error
	}{
		{"a real pod's quantities", `{"spec":{"containers":[{"resources":{"limits":{"cpu":"2","memory":"4Gi"},"requests":{"cpu":"500m"}}}],"overhead":{"cpu":"100m"},"volumes":[{"emptyDir":{"sizeLimit":"1Gi"}}]}}`, ""},
		{"exponent forms within bounds", `{"limits":{"a":"1e3","b":"129e6","c":"1E100","d":"5e-100","e":"0.5e+9","f":"1e0000000003"}}`, ""},
		{"found by FuzzDecodeArgs (case-insensitive keys, as encoding/json)", `{"Pod":{"speC":{"overheAd":{"":"1666666661666666666666666661E61666666"}}}}`,
			`Pod.speC.overheAd.: quantity "1666666661666666666666666661E61666666" has a decimal exponent of 61666666 (at most ±100 is accepted)`},
		{"white space around it, trimmed by Quantity.UnmarshalJSON (found by FuzzDecodeArgs)", "{\"Pod\":{\"speC\":{\"overheAd\":{\"\":\"1666666661166666666666666666E61666666666666     \"}}}}",
			`Pod.speC.overheAd.: quantity "16666666611666666666…66666     " has a decimal exponent of 61666666666666`},
		{"Unicode white space around it (NBSP, NEL, U+3000)", "{\"limits\":{\"cpu\":\"\u00a0 1e999\u0085\u3000\"}}", `limits.cpu: quantity "\u00a0 1e999\u0085\u3000" has a decimal exponent of 999`},
		{"in a container's limits", `{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"1e101"}}}]}}`,
			`spec.containers[0].resources.limits.cpu: quantity "1e101" has a decimal exponent of 101`},
		{"negative exponent", `{"spec":{"overhead":{"cpu":"1000000000000000000000e-5000"}}}`, `spec.overhead.cpu: quantity "1000000000000000000000e-5000" has a decimal exponent of -5000`},
		{"sizeLimit", `{"volumes":[{"emptyDir":{"sizeLimit":"` + long + `"}}]}`, `volumes[0].emptyDir.sizeLimit: quantity "99999999999999999999…9999999999" has a number of 65 characters (at most 64 are accepted)`},
		{"node allocatable", `{"Nodes":{"items":[{"status":{"allocatable":{"cpu":"` + long + `Ki"}}}]}}`, `Nodes.items[0].status.allocatable.cpu: quantity`},
		{"spelled with \\u escapes", `{"requests":{"cpu":"1\u0065999999"}}`, `requests.cpu: quantity "1e999999" has a decimal exponent of 999999`},
		{"escaped <, > and & are no second look", `{"command":["sh","-c","a \u0026\u0026 b \u003e c"],"limits":{"cpu":"2"}}`, ""},
		{"not at a quantity position: left alone", `{"env":[{"name":"X","value":"1e500"}],"metadata":{"annotations":{"a":"` + long + `"}}}`, ""},
		{"suffixes and garbage are cheap: left to the parser", `{"limits":{"a":"1Ei","b":"1e","c":"1e+-5","d":"e999999","e":"1e99x","f":""}}`, ""},
		{"invalid JSON with an expensive string: refused (found by FuzzDecodeArgs: a complete Pod, then garbage)",
			"{\"Pod\":{\"speC\":{\"overheAd\":{\"\":\"1666666661666666666666666661E61666666\"}}}\x85", "invalid JSON holding a string that could be an expensive quantity"},
		{"invalid JSON without one: left to the decoder", `{"limits":{"cpu":"1e9"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Check([]byte(tc.doc))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
				t.Fatalf("Check: %v, want an error starting %q", err, tc.err)
			}
		})
	}
}

// acceptedWorst are the most expensive quantities Check accepts.
var acceptedWorst = []string{
	strings.Repeat("9", MaxDigits) + "e100",
	strings.Repeat("9", MaxDigits) + "e-100",
	"1." + strings.Repeat("1", MaxDigits-2) + "E100",
}

func TestAcceptedWorstCases(t *testing.T) {
	t.Parallel()
	for _, s := range acceptedWorst {
		if err := Check([]byte(`{"limits":{"cpu":"` + s + `"}}`)); err != nil {
			t.Fatalf("Check refused %s: %v", s, err)
		}
		if _, err := ParseQuantity(s); err != nil {
			t.Fatalf("ParseQuantity(%s): %v", s, err)
		}
	}
}

// BenchmarkAcceptedWorstCases parses and prints the most expensive
// quantities Check accepts (microseconds; the refused ones take seconds to
// minutes, see the package comment).
func BenchmarkAcceptedWorstCases(b *testing.B) {
	for b.Loop() {
		for _, s := range acceptedWorst {
			q, err := resource.ParseQuantity(s)
			if err != nil {
				b.Fatal(err)
			}
			_ = q.String()
			_ = q.MilliValue()
		}
	}
}

// BenchmarkCheck is the cost on every decoded object: a pod of the size the
// API server sends, with no expensive quantity (the common case: one pass
// over the bytes, nothing decoded).
func BenchmarkCheck(b *testing.B) {
	env := strings.Repeat(`{"name":"OPENAPI_PREFIX","value":"/hetida-designer/runtime"},`, 40)
	doc := []byte(`{"metadata":{"name":"hd-runtime-7d9f8b6c5-abcde","annotations":{"prometheus.io/scrape":"true"}},"spec":{"containers":[{"name":"runtime","image":"hetida/designer-runtime:0.9.7","env":[` +
		env + `{"name":"X","value":"1"}],"resources":{"limits":{"cpu":"2","memory":"4Gi"},"requests":{"cpu":"500m","memory":"2Gi"}}}]}}`)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := Check(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSuspicious(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]bool{
		`{"a":"b"}`: false,
		`{"command":["a \u0026\u0026 b"],"x":"\u003c\n\"q\""}`: false,
		`{"x":"\u0031"}`: true, // "1": could be part of a quantity
		`{"x":"\u00zz"}`: true, // malformed: judged by the decode
		`{"x":"1e999"}`:  true,
		`{"x":"` + strings.Repeat("1", 65) + `"}`: true,
		`{"x":"1e99"}`:              false,
		"{\"x\":\" 1e999\u2028 \"}": true,  // raw white space (here U+2028): trimmed before the parse
		`{"x":"\u00201e999"}`:       false, // escaped: Quantity.UnmarshalJSON parses the raw "\u0020...", a format error
		`"1e999`:                    true,  // unterminated
	} {
		if got := suspicious([]byte(doc)); got != want {
			t.Errorf("suspicious(%s) = %v, want %v", doc, got, want)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, err string // err: "" when the parse succeeds
	}{
		{"1500m", ""},
		{"1e3", ""},
		{"lots", "quantities must match the regular expression"},
		// Found by FuzzValidateNamespace as a namespace label value.
		{".8E38388880032", `quantity ".8E38388880032" has a decimal exponent of 38388880032 (at most ±100 is accepted)`},
		{strings.Repeat("1", MaxDigits+1) + "m", "has a number of 65 characters"},
	} {
		_, err := ParseQuantity(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseQuantity(%q): %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseQuantity(%q): %v, want an error containing %q", tc.in, err, tc.err)
		}
	}
}
