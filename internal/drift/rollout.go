package drift

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OwnerLookup returns the controller owner reference of the object ref names
// in namespace (nil when it has none), e.g. the Deployment of a ReplicaSet.
type OwnerLookup func(namespace string, ref metav1.OwnerReference) (*metav1.OwnerReference, error)

// Rollout is how to recreate a drifted pod so the webhook decides it again.
type Rollout struct {
	// Kind and Name are the object the command acts on (Deployment,
	// StatefulSet, DaemonSet, or Pod).
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Command string `json:"command"`
	// Note says what else to know ("" when nothing).
	Note string `json:"note,omitempty"`
}

// RolloutFor renders the command that recreates pod: a rollout restart of its
// Deployment, StatefulSet or DaemonSet, else deleting the pod. A ReplicaSet's
// Deployment is known only through lookup (nil: not looked up); the name is
// never guessed from the ReplicaSet's, so without it the pod is deleted and
// its ReplicaSet recreates it.
func RolloutFor(pod *corev1.Pod, lookup OwnerLookup) Rollout {
	ns := pod.Namespace
	restart := func(kind, resource, name string) Rollout {
		return Rollout{Kind: kind, Name: name, Command: fmt.Sprintf("kubectl -n %s rollout restart %s/%s", ns, resource, name)}
	}
	deletePod := Rollout{Kind: "Pod", Name: pod.Name, Command: fmt.Sprintf("kubectl -n %s delete pod %s", ns, pod.Name)}
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		deletePod.Note = "a bare pod: nothing recreates it; create it again from its manifest after deleting it"
		return deletePod
	}
	switch ref.Kind {
	case "StatefulSet":
		return restart("StatefulSet", "statefulset", ref.Name)
	case "DaemonSet":
		return restart("DaemonSet", "daemonset", ref.Name)
	case "ReplicaSet":
		if lookup != nil {
			owner, err := lookup(ns, *ref)
			switch {
			case err != nil:
				deletePod.Note = fmt.Sprintf("ReplicaSet %s recreates it (its owner is unknown: %v)", ref.Name, err)
				return deletePod
			case owner != nil && owner.Kind == "Deployment":
				return restart("Deployment", "deployment", owner.Name)
			}
		}
	}
	deletePod.Note = fmt.Sprintf("%s %s recreates it", ref.Kind, ref.Name)
	return deletePod
}
