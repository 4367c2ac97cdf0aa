package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// uidTemplate is the request uid in a review template; every request gets
// its own uid of the same length written over it (see Body.With).
const uidTemplate = "00000000-0000-4000-8000-000000000000"

// Body is an AdmissionReview request body with a replaceable uid.
type Body struct {
	raw    []byte
	uidOff int
}

// Len is the body's size in bytes.
func (b Body) Len() int { return len(b.raw) }

// With returns a copy of the body carrying uid n (formatted as a UUID) and
// that uid.
func (b Body) With(dst []byte, n uint64) ([]byte, string) {
	dst = append(dst[:0], b.raw...)
	uid := fmt.Sprintf("%08x-%04x-4000-8000-%012x", uint32(n>>48), uint16(n>>32), n&0xffffffffffff)
	copy(dst[b.uidOff:], uid)
	return dst, uid
}

// NewBody builds the AdmissionReview kube-apiserver sends for a pod CREATE
// by manager's service account (e.g. the ReplicaSet controller).
func NewBody(pod *corev1.Pod, dryRun bool) (Body, error) {
	obj, err := json.Marshal(pod)
	if err != nil {
		return Body{}, err
	}
	opts, err := json.Marshal(&metav1.CreateOptions{TypeMeta: metav1.TypeMeta{Kind: "CreateOptions", APIVersion: "meta.k8s.io/v1"},
		FieldManager: "kube-controller-manager"})
	if err != nil {
		return Body{}, err
	}
	gvk := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	gvr := metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID(uidTemplate), Kind: gvk, Resource: gvr, RequestKind: &gvk, RequestResource: &gvr,
			Namespace: pod.Namespace, Operation: admissionv1.Create,
			UserInfo: authenticationv1.UserInfo{
				Username: "system:serviceaccount:kube-system:replicaset-controller",
				UID:      "5f0c6ad4-1b1e-4f0e-9a55-2c1a3d0f7e11",
				Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
			},
			Object:  runtime.RawExtension{Raw: obj},
			DryRun:  &dryRun,
			Options: runtime.RawExtension{Raw: opts},
		},
	}
	raw, err := json.Marshal(&review)
	if err != nil {
		return Body{}, err
	}
	off := bytes.Index(raw, []byte(`"uid":"`+uidTemplate+`"`))
	if off < 0 {
		return Body{}, fmt.Errorf("uid placeholder not found in the review")
	}
	return Body{raw: raw, uidOff: off + len(`"uid":"`)}, nil
}
