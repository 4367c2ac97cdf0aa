package kube

import (
	"testing"

	"k8s.io/client-go/rest"
)

func TestProtobufCopies(t *testing.T) {
	t.Parallel()
	in := &rest.Config{Host: "https://example.invalid", UserAgent: "x"}
	out := Protobuf(in)
	if out.ContentType != "application/vnd.kubernetes.protobuf" || out.AcceptContentTypes != "application/vnd.kubernetes.protobuf,application/json" {
		t.Errorf("content types = %q / %q", out.ContentType, out.AcceptContentTypes)
	}
	if in.ContentType != "" || in.AcceptContentTypes != "" {
		t.Errorf("the input was modified: %+v", in)
	}
	if out.Host != in.Host || out.UserAgent != in.UserAgent {
		t.Errorf("fields not copied: %+v", out)
	}
}
