//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// kubectl runs the suite's kubectl against the e2e cluster and returns its
// standard output; stdin may be nil.
func kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite.kubectl, append([]string{"--kubeconfig", suite.kubecfg}, args...)...)
	cmd.Dir = suite.repoRoot
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// kustomizeManifests renders manifests/ (`kubectl kustomize manifests/`, what
// `kubectl apply -k manifests/` applies) into objects.
func kustomizeManifests(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	out, err := kubectl(testContext(t), nil, "kustomize", filepath.Join(suite.repoRoot, "manifests"))
	if err != nil {
		t.Fatalf("rendering manifests/: %v", err)
	}
	objs, err := decodeYAMLStream(out)
	if err != nil {
		t.Fatalf("decoding `kubectl kustomize manifests/` output: %v", err)
	}
	if len(objs) == 0 {
		t.Fatal("`kubectl kustomize manifests/` rendered no objects")
	}
	return objs
}

// decodeYAMLStream splits a multi-document YAML stream into objects.
func decodeYAMLStream(b []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for i, doc := range splitYAMLDocuments(b) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if string(js) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

func splitYAMLDocuments(b []byte) []string {
	var docs []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if strings.TrimRight(line, "\r\n") == "---" {
			docs = append(docs, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(docs, cur.String())
}

// findObject returns the rendered object of kind and name (nil if absent).
func findObject(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}
