// Package quantityguard refuses JSON objects whose resource quantities would
// take resource.ParseQuantity (k8s.io/apimachinery) minutes of CPU.
//
// ParseQuantity takes an exact decimal path for a mantissa of more than 18
// digits, and rounding or printing such a value with a large decimal
// exponent builds a number of that many digits:
// "1666666661666666666666666661E61666666" (37 bytes, found by FuzzDecodeArgs)
// takes 19 s to parse and longer to print. Decoding a Pod, Deployment or
// ExtenderArgs parses every quantity in it (resources, overhead, emptyDir
// size limits, node capacity), so one such string in a request body would
// hold a webhook or extender goroutine for minutes. Kubernetes' own tracker
// of these parser problems has rejected exponents beyond int32 since
// kubernetes/kubernetes#141203; large exponents within int32 and long
// mantissas are still slow in v0.37.
//
// ParseQuantity does the same for a single string hdscale parses itself
// (namespace labels, the policy annotation, the webhook's config).
//
// Check runs before such a decode. A quantity is refused when its number
// has more than MaxDigits characters or its decimal exponent exceeds
// ±MaxExponent: no resource amount Kubernetes can hold needs either (an
// int64 of milli-units has 19 digits), and parsing what passes costs
// microseconds. Only strings at quantity positions count (values of
// "limits", "requests", "overhead", "capacity", "allocatable" and
// "hard"/"used" maps, and "sizeLimit"), so an environment
// variable "1e500" is left alone.
package quantityguard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// MaxDigits is the longest number part (digits and point) accepted.
	MaxDigits = 64
	// MaxExponent bounds a decimal exponent ("1e100").
	MaxExponent = 100
)

// Check returns an error naming the first quantity in the JSON document raw
// that would be expensive to parse, and nil otherwise. It reads raw once;
// only a document holding an expensive-looking string anywhere, or a \u
// escape of a number's character, is decoded generically to find where that
// string is. Such a
// document that is not valid JSON is refused too: a streaming decoder parses
// the quantities of a complete value before it finds a syntax error after it.
func Check(raw []byte) error {
	if !suspicious(raw) {
		return nil
	}
	if !json.Valid(raw) {
		return errors.New("invalid JSON holding a string that could be an expensive quantity")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var doc any
	if d.Decode(&doc) != nil {
		return nil
	}
	return walk(doc, "", "", false)
}

// suspicious reports whether a string literal of raw is an expensive
// quantity, or holds a \u escape that could spell one.
func suspicious(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		j := i + 1
		escaped := false
		for ; j < len(raw) && raw[j] != '"'; j++ {
			if raw[j] == '\\' {
				if j+5 < len(raw) && raw[j+1] == 'u' && spellsNumber(raw[j+2:j+6]) {
					return true
				}
				escaped = true
				j++ // skip the escaped byte
			}
		}
		if !escaped && expensive(raw[i+1:min(j, len(raw))]) != "" {
			return true
		}
		i = j
	}
	return false
}

// spellsNumber reports whether the four hex digits of a \u escape spell a
// character of a number ([0-9.+-eE]). Encoders escape <, > and & (Go's
// encoding/json does by default, so "&&" in a container's command arrives as
// \u0026\u0026); those cannot be part of a quantity and need no second look.
func spellsNumber(hex []byte) bool {
	v, err := strconv.ParseUint(string(hex), 16, 16)
	if err != nil {
		return true // malformed: let the generic decode judge
	}
	c := rune(v)
	return c >= '0' && c <= '9' || c == '.' || c == '+' || c == '-' || c == 'e' || c == 'E'
}

// walk looks for an expensive quantity at the quantity positions of v, found
// at path; inMap is set for the values of a map of quantities, key is v's key
// in its parent object.
func walk(v any, path, key string, inMap bool) error {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) { // the first in a stable order
			if err := walk(v[k], path+"."+k, k, quantityMap(key)); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := walk(e, path+"["+strconv.Itoa(i)+"]", "", false); err != nil {
				return err
			}
		}
	case string:
		if !inMap && !quantityKey(key) {
			return nil
		}
		if why := expensive([]byte(v)); why != "" {
			return fmt.Errorf("%s: quantity %q %s", strings.TrimPrefix(path, "."), abbreviate(v), why)
		}
	}
	return nil
}

// quantityMap reports whether key names a map of resource name to quantity.
// Keys compare case-insensitively, as encoding/json matches struct fields.
func quantityMap(key string) bool {
	for _, k := range []string{"limits", "requests", "overhead", "capacity", "allocatable", "hard", "used"} {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// quantityKey reports whether key holds a single quantity.
func quantityKey(key string) bool {
	return strings.EqualFold(key, "sizeLimit")
}

// expensive says why the quantity s would be expensive to parse ("" when it
// would not): its number part ([+-]digits and points) is longer than
// MaxDigits, or it ends in a decimal exponent beyond ±MaxExponent.
// Surrounding white space does not count: Quantity.UnmarshalJSON trims it
// (strings.TrimSpace, Unicode's white space) before it parses, so
// "1666666661166666666666666666E61666666666666     " is as slow as without
// the spaces (found by FuzzDecodeArgs).
func expensive(s []byte) string {
	// Most strings of an object are names, not numbers: an ASCII first byte
	// that is neither white space, a sign, a point nor a digit cannot start
	// one. This keeps the trims below off the common path (Check runs on
	// every admission and filter request).
	if len(s) > 0 && s[0] < utf8.RuneSelf && !mayStartNumber(s[0]) {
		return ""
	}
	n := bytes.TrimLeft(bytes.TrimSpace(s), "+-")
	digits := 0
	for digits < len(n) && (n[digits] >= '0' && n[digits] <= '9' || n[digits] == '.') {
		digits++
	}
	if digits == 0 {
		return ""
	}
	if digits > MaxDigits {
		return fmt.Sprintf("has a number of %d characters (at most %d are accepted)", digits, MaxDigits)
	}
	rest := n[digits:]
	if len(rest) < 2 || rest[0] != 'e' && rest[0] != 'E' {
		return ""
	}
	exp := bytes.TrimLeft(rest[1:], "+-")
	if len(exp) == 0 || len(exp) < len(rest)-2 {
		return "" // "e", or more than one sign: not an exponent
	}
	for _, c := range exp {
		if c < '0' || c > '9' {
			return "" // a suffix such as "Ei" or garbage: cheap to refuse
		}
	}
	sign := ""
	if rest[1] == '-' {
		sign = "-"
	}
	exp = bytes.TrimLeft(exp, "0")
	if e, err := strconv.Atoi(string(exp)); len(exp) > 0 && (err != nil || e > MaxExponent) { // err: beyond int
		return fmt.Sprintf("has a decimal exponent of %s%s (at most ±%d is accepted)", sign, abbreviate(string(exp)), MaxExponent)
	}
	return ""
}

// mayStartNumber reports whether the ASCII byte c may begin a quantity as
// Quantity.UnmarshalJSON reads it: white space (trimmed), a sign, a point or
// a digit.
func mayStartNumber(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', '+', '-', '.':
		return true
	}
	return c >= '0' && c <= '9'
}

// abbreviate shortens s for an error message.
func abbreviate(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:20] + "…" + s[len(s)-10:]
}
