package webhook

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/hdscale/hdscale/internal/quantityguard"
)

// Config holds the rules that decide which pods are hetida designer runtime
// pods and which of their containers are sized. It is read from the --config
// YAML file; absent fields take the defaults of DefaultConfig, while a field
// given as an empty list or map disables that rule.
//
// A container is a runtime container when Runtime matches it (its image or its
// env) and NotRuntime does not. A pod is a runtime pod when it has a runtime
// container, or when it carries every label of PodLabels (a labels-only match:
// then its first container that NotRuntime does not exclude is the runtime
// container). Init containers and other containers are never changed.
type Config struct {
	// Runtime identifies runtime containers.
	Runtime Rules `json:"runtime"`
	// NotRuntime excludes containers even when Runtime matches them (the
	// hetida designer backend runs the same code with HD_IS_RUNTIME_SERVICE=false).
	NotRuntime Rules `json:"notRuntime"`
	// PodLabels makes a pod carrying all of these labels a runtime pod.
	PodLabels map[string]string `json:"podLabels"`
	// Pools declares, per pool name, the node shape runtime pods are sized
	// for while no node of the pool counts for its shape (a node group
	// scaled to zero): with it, Pending pods ask for the right size and a
	// cluster autoscaler scales the group up for them. Real nodes always win.
	Pools map[string]DeclaredPool `json:"pools,omitempty"`
}

// DeclaredPool is the node shape declared for a pool.
type DeclaredPool struct {
	// NodeCPU is a node's allocatable CPU, a quantity ("8", "7910m").
	NodeCPU string `json:"nodeCPU"`
}

// maxDeclaredCPU bounds a declared node CPU (1e6 cores). A constant, not a
// shared Quantity: Quantity.String caches into its receiver, a data race.
const maxDeclaredCPU = "1000000"

// DeclaredCPU returns the declared node CPU per pool in millicores (the
// config must be valid).
func (c Config) DeclaredCPU() map[string]int64 {
	out := make(map[string]int64, len(c.Pools))
	for name, p := range c.Pools {
		if q, err := quantityguard.ParseQuantity(p.NodeCPU); err == nil {
			out[name] = q.MilliValue()
		}
	}
	return out
}

// Rules match a container by image repository or by an env variable.
type Rules struct {
	// Images are image repositories without registry host, tag or digest
	// ("hetida/designer-runtime"). An image matches when its repository is
	// the entry or ends in "/" + entry (a registry mirror's path prefix).
	Images []string `json:"images"`
	// Env matches a container that sets one of these variables (with value:,
	// not valueFrom:) to one of the listed values.
	Env []EnvRule `json:"env"`
}

// EnvRule matches an env variable set to one of Values (compared
// case-insensitively, surrounding spaces ignored).
type EnvRule struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// Image repositories and env variables of hetida designer.
const (
	RuntimeImage = "hetida/designer-runtime"
	BackendImage = "hetida/designer-backend"
	// EnvIsBackendService is "false" in a runtime-only deployment.
	EnvIsBackendService = "HD_IS_BACKEND_SERVICE"
	// EnvIsRuntimeService is "false" in a backend-only deployment.
	EnvIsRuntimeService = "HD_IS_RUNTIME_SERVICE"
)

// falseValues are the strings pydantic (hetida designer's settings parser)
// reads as false.
var falseValues = []string{"false", "0", "f", "n", "no", "off"}

// DefaultConfig returns the built-in matching rules: image
// hetida/designer-runtime or HD_IS_BACKEND_SERVICE=false is a runtime, image
// hetida/designer-backend or HD_IS_RUNTIME_SERVICE=false is not, and the
// labels app.kubernetes.io/name=hetida-designer +
// app.kubernetes.io/component=runtime mark a runtime pod.
func DefaultConfig() Config {
	var c Config
	c.Default()
	return c
}

// Default fills the fields that are nil (absent) with the built-in rules.
func (c *Config) Default() {
	if c.Runtime.Images == nil {
		c.Runtime.Images = []string{RuntimeImage}
	}
	if c.Runtime.Env == nil {
		c.Runtime.Env = []EnvRule{{Name: EnvIsBackendService, Values: append([]string(nil), falseValues...)}}
	}
	if c.NotRuntime.Images == nil {
		c.NotRuntime.Images = []string{BackendImage}
	}
	if c.NotRuntime.Env == nil {
		c.NotRuntime.Env = []EnvRule{{Name: EnvIsRuntimeService, Values: append([]string(nil), falseValues...)}}
	}
	if c.PodLabels == nil {
		c.PodLabels = map[string]string{
			"app.kubernetes.io/name":      "hetida-designer",
			"app.kubernetes.io/component": "runtime",
		}
	}
}

// repositoryPath is a Docker repository path: lowercase components separated
// by "/", each alphanumeric runs joined by ".", "_", "__" or dashes.
var repositoryPath = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// Validate reports every problem of the (defaulted) config in one error.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("config: "+format, args...)) }
	checkRules := func(field string, r Rules) {
		for _, img := range r.Images {
			if !repositoryPath.MatchString(img) {
				bad("%s.images entry %q must be an image repository without registry host, tag or digest, e.g. %s", field, img, RuntimeImage)
			}
		}
		for i, e := range r.Env {
			if msgs := validation.IsEnvVarName(e.Name); len(msgs) > 0 {
				bad("%s.env[%d].name %q is not a valid env variable name: %s", field, i, e.Name, strings.Join(msgs, "; "))
			}
			if len(e.Values) == 0 {
				bad("%s.env[%d] (%s) must list at least one value", field, i, e.Name)
			}
			for j, v := range e.Values {
				if r, ok := lineBreakOrControl(v); ok {
					bad("%s.env[%d].values[%d] %q contains %U: a match value must be one line of printable text", field, i, j, v, r)
				}
			}
		}
	}
	checkRules("runtime", c.Runtime)
	checkRules("notRuntime", c.NotRuntime)
	for _, img := range c.Runtime.Images {
		for _, not := range c.NotRuntime.Images {
			if img == not {
				bad("image %q is listed in both runtime.images and notRuntime.images", img)
			}
		}
	}
	for k, v := range c.PodLabels {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			bad("podLabels key %q is not a valid label key: %s", k, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
			bad("podLabels[%s] value %q is not a valid label value: %s", k, v, strings.Join(msgs, "; "))
		}
	}
	for name, p := range c.Pools {
		if msgs := validation.IsValidLabelValue(name); len(msgs) > 0 || name == "" {
			bad("pools key %q is not a valid pool name (a label value): %s", name, strings.Join(msgs, "; "))
		}
		q, err := quantityguard.ParseQuantity(p.NodeCPU)
		switch {
		case err != nil:
			bad("pools[%s].nodeCPU %q is not a quantity (e.g. \"8\" or \"7910m\")", name, p.NodeCPU)
		case q.Sign() <= 0 || q.Cmp(resource.MustParse(maxDeclaredCPU)) > 0 || q.MilliValue() < 1:
			bad("pools[%s].nodeCPU %q must be between 1m and %s", name, p.NodeCPU, maxDeclaredCPU)
		}
	}
	if len(c.Runtime.Images) == 0 && len(c.Runtime.Env) == 0 && len(c.PodLabels) == 0 {
		bad("runtime.images, runtime.env and podLabels are all empty: no pod would ever match")
	}
	return errors.Join(errs...)
}

// ParseConfig reads a YAML (or JSON) config, rejecting unknown and duplicate
// fields, applies the defaults and validates it.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c.Default()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfig reads the config file at path; an empty path gives DefaultConfig.
func LoadConfig(path string) (Config, error) {
	if path == "" {
		return DefaultConfig(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// lineBreakOrControl returns the first control character (C0 and C1, so tab
// and NEL too) or Unicode line or paragraph separator in s. A match value
// holding one is no real env value, and YAML cannot carry it: FuzzParseConfig
// found that "\N" (NEL) in a double-quoted value comes back as a space after
// the config is written out and read again.
func lineBreakOrControl(s string) (rune, bool) {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return r, true
		}
	}
	return 0, false
}
