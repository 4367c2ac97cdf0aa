// Package helm holds the tests of the Helm chart manifests/helm/hdscale: it
// renders the chart with the Helm library and builds the kustomize base
// manifests/ with the kustomize library, so `go test ./...` needs neither a
// helm nor a kubectl binary.
package helm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	v2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	chartDir = "hdscale"
	baseDir  = ".."
	// The release the chart is rendered as: the namespace of the base.
	releaseName      = "hdscale"
	releaseNamespace = "hdscale-system"
	// The Kubernetes version the chart is rendered for (the cluster version
	// the base's kube-scheduler image is built for).
	kubeVersion = "v1.37.2"
)

// objKey identifies a Kubernetes object.
type objKey struct{ APIVersion, Kind, Namespace, Name string }

func (k objKey) String() string {
	s := k.Kind + " " + k.Name
	if k.Namespace != "" {
		s = k.Kind + " " + k.Namespace + "/" + k.Name
	}
	return s + " (" + k.APIVersion + ")"
}

// objects are the rendered objects by key.
type objects map[objKey]map[string]any

func (o objects) keys() []objKey {
	keys := make([]objKey, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

// decodeObjects parses a multi-document YAML stream into objects (JSON
// types: numbers as float64), skipping empty documents.
func decodeObjects(into objects, source string, data []byte) error {
	dec := yamlutil.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		if len(obj) == 0 {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		k := objKey{str(obj["apiVersion"]), str(obj["kind"]), str(meta["namespace"]), str(meta["name"])}
		if k.APIVersion == "" || k.Kind == "" || k.Name == "" {
			return fmt.Errorf("%s: object without apiVersion, kind or name: %v", source, obj)
		}
		if _, dup := into[k]; dup {
			return fmt.Errorf("%s: %s rendered twice", source, k)
		}
		into[k] = obj
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// rendered is one render of the chart.
type rendered struct {
	objects objects
	notes   string
}

// renderChart renders the chart as `helm template` / `helm install` would,
// with values merged over values.yaml, validating them against
// values.schema.json.
func renderChart(values map[string]any) (rendered, error) {
	return renderChartAt(values, kubeVersion)
}

// renderChartAt renders the chart for a cluster of version kubeVersion.
func renderChartAt(values map[string]any, kubeVersion string) (rendered, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return rendered{}, err
	}
	caps := common.DefaultCapabilities.Copy()
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		return rendered{}, err
	}
	caps.KubeVersion = *kv
	if ch.Metadata.KubeVersion != "" && !v2util.IsCompatibleRange(ch.Metadata.KubeVersion, kv.String()) {
		return rendered{}, fmt.Errorf("chart requires kubeVersion %s, rendering for %s", ch.Metadata.KubeVersion, kv)
	}
	if values == nil {
		values = map[string]any{}
	}
	vals, err := chartutil.ToRenderValues(ch, values, common.ReleaseOptions{
		Name: releaseName, Namespace: releaseNamespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return rendered{}, err
	}
	files, err := engine.Engine{Strict: true}.Render(ch, vals)
	if err != nil {
		return rendered{}, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	r := rendered{objects: objects{}}
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, "NOTES.txt"):
			r.notes = files[n]
		case strings.HasSuffix(n, ".yaml"):
			if err := decodeObjects(r.objects, n, []byte(files[n])); err != nil {
				return rendered{}, err
			}
		}
	}
	return r, nil
}

// buildBase runs `kustomize build manifests/`.
func buildBase() (objects, error) {
	dir, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	data, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	out := objects{}
	return out, decodeObjects(out, "kustomize build "+dir, data)
}

// helmLabels are the labels Helm charts add by convention; the chart may put
// them on objects and pod templates, never in selectors.
// helmAnnotations are Helm's own annotations the chart may add to an object
// of the base (metadata.annotations only); the drift test ignores them.
var helmAnnotations = map[string]bool{
	// On the release namespace: helm uninstall keeps it, since deleting it
	// would delete Helm's release record before Helm purges it.
	"helm.sh/resource-policy": true,
}

var helmLabels = map[string]bool{
	"helm.sh/chart":                true,
	"app.kubernetes.io/managed-by": true,
	"app.kubernetes.io/instance":   true,
	"app.kubernetes.io/version":    true,
}

// selectorsWithHelmLabels lists the paths of selectors (label selectors,
// Service selectors) that carry one of helmLabels.
func selectorsWithHelmLabels(path string, v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			p := path + "." + k
			if k == "selector" || k == "matchLabels" || k == "labelSelector" || k == "podSelector" || k == "namespaceSelector" {
				if m, ok := child.(map[string]any); ok {
					for l := range m {
						if helmLabels[l] {
							out = append(out, p+"."+l)
						}
					}
				}
			}
			out = append(out, selectorsWithHelmLabels(p, child)...)
		}
	case []any:
		for i, child := range v {
			out = append(out, selectorsWithHelmLabels(fmt.Sprintf("%s[%d]", path, i), child)...)
		}
	}
	sort.Strings(out)
	return out
}

func mustRender(t *testing.T, values map[string]any) rendered {
	t.Helper()
	r, err := renderChart(values)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	for _, k := range r.objects.keys() {
		if bad := selectorsWithHelmLabels("", r.objects[k]); len(bad) > 0 {
			t.Errorf("%s: Helm labels in selectors: %s", k, strings.Join(bad, ", "))
		}
	}
	return r
}

func mustGet(t *testing.T, o objects, k objKey) map[string]any {
	t.Helper()
	obj, ok := o[k]
	if !ok {
		t.Fatalf("%s not rendered; rendered: %v", k, o.keys())
	}
	return obj
}

// at follows a path of map keys and list indexes.
func at(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[p]
		case int:
			l, ok := v.([]any)
			if !ok || p >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
