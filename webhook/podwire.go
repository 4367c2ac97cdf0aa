package webhook

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
)

// The pod of a CREATE request, decoded slim. An admission reads a handful of
// the pod's fields, but decoding it into a whole corev1.Pod was one of the
// largest costs of an admission: every volume, probe, port, security
// context, owner reference and managedFields entry was allocated (and
// deep-copied by Plan), then never looked at. The pod is
// decoded into wirePod instead: only the fields the webhook reads (Admit,
// Match, Plan and its rules, the view patch), each with the JSON name and Go
// type it has in corev1.Pod and with the same decoder as before
// (decodeObject: sigs.k8s.io/json, case-sensitive, as the API server
// decodes; repeated fields refused), so every field it holds decodes exactly
// as it would in a corev1.Pod. Everything else
// is skipped by the decoder's scanner without allocating. wirePod.pod turns it
// into a *corev1.Pod holding just those fields, so the decision code keeps
// working on corev1 types. For the pod as the API server sends it (defaulted,
// with managedFields and the token volume) that is half the time and
// allocations of a whole decode (BenchmarkDecodePod).
//
// What a whole decode gave that the slim one does not, and how it is made up:
//
//   - The general patch path (createPatchFull) diffs whole pods: when the view
//     patch cannot be used, createPatch decodes the whole pod from the raw
//     bytes (requestPod.fullPod) and plans again on it.
//   - The view patch needs to know whether the pod came with metadata, which
//     it told from a zero ObjectMeta: wireMeta notes whether the ObjectMeta
//     fields it does not read are set (requestPod.hasMetadata).
//   - Error messages name corev1's types and the first bad field anywhere in
//     the pod. A pod the slim decode rejects is decoded whole, and that error
//     is the one reported, word for word as before.
//   - A pod whose unread fields have the wrong JSON type (say "volumes": "x")
//     was rejected as a bad object (400) and now is not, unless the general
//     patch path runs, which decodes the whole pod and rejects it as before.
//     The API server never sends such a pod (it encodes the typed object) and
//     validates the pod after the webhooks anyway. The same holds for a
//     field repeated among the unread ones (say two "volumes"): the whole
//     decode refuses it, the slim one skips it. These are the differences in
//     behaviour.
//
// FuzzDecodePod checks the slim decode against the whole one: every object a
// corev1.Pod decodes from is decoded with the same fields (projectPod) and
// the same hasMetadata, and every object rejected here is rejected there with
// the same error. FuzzMutate and TestAdmitSlimMatchesWhole check that Admit
// answers as it does with whole pods (Mutator.wholePods).

// requestPod is the pod of an admission request.
type requestPod struct {
	// raw is the pod as the API server sent it.
	raw []byte
	// pod holds the fields of wirePod, or the whole pod when full is set.
	pod  *corev1.Pod
	full bool
	// hasMetadata reports that the pod's ObjectMeta, decoded whole, is not
	// the zero value: a pod without metadata takes the general patch path
	// (see onlyViewChanged).
	hasMetadata bool
}

// decodeRequestPod decodes raw slim; errors are those of decodeFullPod.
func decodeRequestPod(raw []byte) (*requestPod, error) {
	var w wirePod
	if err := decodeObject(raw, &w); err != nil {
		// Report the error a whole decode reports. (A decode into corev1.Pod
		// fails whenever this one does: the fields here have its types.)
		return decodeWholeRequestPod(raw)
	}
	return &requestPod{raw: raw, pod: w.pod(), hasMetadata: !reflect.ValueOf(w.Metadata).IsZero()}, nil
}

// decodeWholeRequestPod decodes raw into a whole pod (the slim decode's
// reference, see Mutator.wholePods).
func decodeWholeRequestPod(raw []byte) (*requestPod, error) {
	full, err := decodeFullPod(raw)
	if err != nil {
		return nil, err
	}
	return &requestPod{raw: raw, pod: full, full: true, hasMetadata: !reflect.ValueOf(full.ObjectMeta).IsZero()}, nil
}

// decodeFullPod decodes raw into a whole corev1.Pod.
func decodeFullPod(raw []byte) (*corev1.Pod, error) {
	var p corev1.Pod
	if err := decodeObject(raw, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// fullPod returns the whole pod, decoding it if p holds only wirePod's fields.
func (p *requestPod) fullPod() (*corev1.Pod, error) {
	if p.full {
		return p.pod, nil
	}
	return decodeFullPod(p.raw)
}

// wirePod is the part of a Pod the webhook reads, with corev1.Pod's JSON
// names and field types.
type wirePod struct {
	Metadata wireMeta `json:"metadata"`
	Spec     struct {
		NodeSelector  map[string]string   `json:"nodeSelector"`
		SchedulerName string              `json:"schedulerName"`
		Tolerations   []corev1.Toleration `json:"tolerations"`
		Containers    []wireContainer     `json:"containers"`
		// The fields a pod's CPU request depends on (pool.OtherCPURequestMilli).
		InitContainers []wireInitContainer          `json:"initContainers"`
		Overhead       corev1.ResourceList          `json:"overhead"`
		Resources      *corev1.ResourceRequirements `json:"resources"`
	} `json:"spec"`
}

// wireMeta holds the ObjectMeta fields the webhook reads (Namespace,
// Labels, Annotations; Name and GenerateName name the pod), and the rest of
// ObjectMeta only as far as telling whether it is zero (requestPod.hasMetadata):
// the strings and generation are cheap and decoded as they are; the fields
// that may be large or many are setFields. wireMeta is the zero value exactly
// when the ObjectMeta decoded from the same JSON is.
type wireMeta struct {
	Name         string            `json:"name"`
	GenerateName string            `json:"generateName"`
	Namespace    string            `json:"namespace"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`

	SelfLink                   string   `json:"selfLink"`
	UID                        string   `json:"uid"`
	ResourceVersion            string   `json:"resourceVersion"`
	Generation                 int64    `json:"generation"`
	CreationTimestamp          setField `json:"creationTimestamp"`
	DeletionTimestamp          setField `json:"deletionTimestamp"`
	DeletionGracePeriodSeconds setField `json:"deletionGracePeriodSeconds"`
	OwnerReferences            setField `json:"ownerReferences"`
	Finalizers                 setField `json:"finalizers"`
	ManagedFields              setField `json:"managedFields"`
}

// setField stands for an ObjectMeta field the webhook does not read whose
// JSON null decodes to the zero value and any other (well-typed) value to a
// non-zero one: a pointer, a slice (even an empty one) or a metav1.Time. It
// records which; the value itself is skipped, not decoded.
type setField bool

// UnmarshalJSON implements json.Unmarshaler.
func (s *setField) UnmarshalJSON(b []byte) error {
	*s = string(b) != "null"
	return nil
}

// wireContainer is the part of a Container the webhook reads.
type wireContainer struct {
	Name      string                      `json:"name"`
	Image     string                      `json:"image"`
	Env       []corev1.EnvVar             `json:"env"`
	Resources corev1.ResourceRequirements `json:"resources"`
}

// wireInitContainer is the part of an init container the webhook reads.
type wireInitContainer struct {
	Name          string                         `json:"name"`
	Resources     corev1.ResourceRequirements    `json:"resources"`
	RestartPolicy *corev1.ContainerRestartPolicy `json:"restartPolicy"`
}

// pod returns the decoded fields as a corev1.Pod (everything else empty).
func (w *wirePod) pod() *corev1.Pod {
	p := &corev1.Pod{}
	m := &w.Metadata
	p.Name, p.GenerateName, p.Namespace, p.Labels, p.Annotations = m.Name, m.GenerateName, m.Namespace, m.Labels, m.Annotations
	s := &w.Spec
	p.Spec.NodeSelector, p.Spec.SchedulerName, p.Spec.Tolerations = s.NodeSelector, s.SchedulerName, s.Tolerations
	if s.Containers != nil {
		p.Spec.Containers = make([]corev1.Container, len(s.Containers))
		for i := range s.Containers {
			c, wc := &p.Spec.Containers[i], &s.Containers[i]
			c.Name, c.Image, c.Env, c.Resources = wc.Name, wc.Image, wc.Env, wc.Resources
		}
	}
	if s.InitContainers != nil {
		p.Spec.InitContainers = make([]corev1.Container, len(s.InitContainers))
		for i := range s.InitContainers {
			c, wc := &p.Spec.InitContainers[i], &s.InitContainers[i]
			c.Name, c.Resources, c.RestartPolicy = wc.Name, wc.Resources, wc.RestartPolicy
		}
	}
	p.Spec.Overhead, p.Spec.Resources = s.Overhead, s.Resources
	return p
}
