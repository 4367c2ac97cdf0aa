package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/hdscale/hdscale/extender"
	"github.com/hdscale/hdscale/internal/policy"
)

// Explain is what `kubectl hdscale explain POD` shows.
type Explain struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Phase     string `json:"phase"`
	Node      string `json:"node,omitempty"`
	// Decision is the webhook's decision (the hdscale.io/policy annotation);
	// DecisionError says why there is none.
	Decision      *policy.Annotation `json:"decision,omitempty"`
	DecisionError string             `json:"decisionError,omitempty"`
	// LabelsHashNow is the hash of the namespace's hdscale labels now and
	// LabelsMatch whether the decision came from them (nil: the namespace
	// could not be read).
	LabelsHashNow string `json:"labelsHashNow,omitempty"`
	LabelsMatch   *bool  `json:"labelsMatch,omitempty"`
	// Conflicts is the hdscale.io/conflicts annotation: fields kept as the
	// pod had them (fill) or overwritten (enforce).
	Conflicts *Conflicts `json:"conflicts,omitempty"`
	// WouldChange is the hdscale.io/would-change annotation (audit mode).
	WouldChange string `json:"wouldChange,omitempty"`
	// Extender are the extender's answers; ExtenderError says why it could
	// not be asked, and then FailedScheduling lists the pod's events.
	Extender         []ExtenderAnswer `json:"extender,omitempty"`
	ExtenderError    string           `json:"extenderError,omitempty"`
	FailedScheduling []Event          `json:"failedScheduling,omitempty"`

	now time.Time
}

// Conflicts is the decoded hdscale.io/conflicts annotation.
type Conflicts struct {
	Kept        []string `json:"kept,omitempty"`
	Overwritten []string `json:"overwritten,omitempty"`
}

// Event is one FailedScheduling event of the pod.
type Event struct {
	LastSeen time.Time `json:"lastSeen"`
	Count    int32     `json:"count"`
	Message  string    `json:"message"`
}

func (r *runner) explain(ctx context.Context, name string) (*Explain, error) {
	ns := r.namespace()
	pod, err := r.c.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("getting pod %s/%s: %w", ns, name, err)
	}
	e := &Explain{Namespace: ns, Name: name, Phase: string(pod.Status.Phase), Node: pod.Spec.NodeName, now: r.now()}
	if v, ok := pod.Annotations[policy.AnnotationPolicy]; !ok {
		e.DecisionError = fmt.Sprintf("no %s annotation: hdscale did not decide this pod (not a runtime pod, its namespace not opted in or in audit mode, or created before hdscale)", policy.AnnotationPolicy)
	} else if a, _, err := policy.ParseAnnotation(v); err != nil {
		e.DecisionError = err.Error()
	} else {
		e.Decision = &a
	}
	if nsObj, err := r.c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		r.warnf("cannot read namespace %s to compare its labels: %v", ns, err)
	} else if e.Decision != nil {
		e.LabelsHashNow = policy.LabelsHash(nsObj.Labels)
		match := e.LabelsHashNow == e.Decision.LabelsHash
		e.LabelsMatch = &match
	}
	if v, ok := pod.Annotations[policy.AnnotationConflicts]; ok {
		var c Conflicts
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			r.warnf("annotation %s is not valid JSON: %v", policy.AnnotationConflicts, err)
		} else {
			e.Conflicts = &c
		}
	}
	e.WouldChange = pod.Annotations[policy.AnnotationAudit]

	if r.c.Extender == nil {
		e.ExtenderError = "no extender client"
	} else if answers, err := r.c.Extender.Explain(ctx, ns+"/"+name); err != nil {
		e.ExtenderError = err.Error()
	} else {
		e.Extender = answers
	}
	if e.ExtenderError != "" {
		if e.FailedScheduling, err = r.failedScheduling(ctx, pod); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// failedScheduling lists the pod's FailedScheduling events, newest first.
func (r *runner) failedScheduling(ctx context.Context, pod *corev1.Pod) ([]Event, error) {
	sel := fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.kind", "Pod"),
		fields.OneTermEqualSelector("involvedObject.name", pod.Name),
		fields.OneTermEqualSelector("reason", "FailedScheduling"),
	).String()
	list, err := r.c.Kube.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("listing the events of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	out := []Event{}
	for _, ev := range list.Items {
		if ev.Reason != "FailedScheduling" || ev.InvolvedObject.Kind != "Pod" || ev.InvolvedObject.Name != pod.Name ||
			(ev.InvolvedObject.UID != "" && ev.InvolvedObject.UID != pod.UID) {
			continue
		}
		last := ev.LastTimestamp.Time
		if last.IsZero() {
			last = ev.EventTime.Time
		}
		out = append(out, Event{LastSeen: last, Count: max(ev.Count, 1), Message: ev.Message})
	}
	slices.SortStableFunc(out, func(a, b Event) int { return b.LastSeen.Compare(a.LastSeen) })
	return out, nil
}

// maxTableDecisions bounds the extender decisions the table shows (-o json
// shows every one).
const maxTableDecisions = 3

func (e *Explain) table(w io.Writer) {
	tw := newTable(w, "POD", "PHASE", "NODE")
	row(tw, e.Namespace+"/"+e.Name, e.Phase, e.Node)
	tw.Flush()
	fmt.Fprintln(w)
	if a := e.Decision; a == nil {
		fmt.Fprintf(w, "Webhook decision: none (%s)\n", e.DecisionError)
	} else {
		fmt.Fprintln(w, "Webhook decision ("+policy.AnnotationPolicy+"):")
		tw = newTable(w, "  FIELD", "VALUE")
		row(tw, "  pattern", string(a.Pattern))
		row(tw, "  pool", a.Pool)
		row(tw, "  mode / conflict", string(a.Mode)+" / "+string(a.Conflict))
		row(tw, "  containers sized", strings.Join(a.Containers, ","))
		row(tw, "  cpu per container", cpuText(a.CPURequest, a.CPULimit))
		row(tw, "  workers", itoaOrEmpty(a.Workers))
		row(tw, "  podCPU", a.PodCPU)
		row(tw, "  perNode", itoaOrEmpty(a.PerNode))
		row(tw, "  sizedFrom", sizedFromText(a))
		row(tw, "  scheduler", a.Scheduler)
		row(tw, "  labelsHash", e.labelsText())
		tw.Flush()
	}
	if c := e.Conflicts; c != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Conflicts ("+policy.AnnotationConflicts+"):")
		tw = newTable(w, "  ACTION", "FIELD")
		for _, f := range c.Kept {
			row(tw, "  kept (the pod's value)", f)
		}
		for _, f := range c.Overwritten {
			row(tw, "  overwritten (the policy's value)", f)
		}
		tw.Flush()
	}
	if e.WouldChange != "" {
		fmt.Fprintf(w, "\nAudit mode, would change (%s): %s\n", policy.AnnotationAudit, e.WouldChange)
	}
	fmt.Fprintln(w)
	if e.ExtenderError != "" {
		fmt.Fprintf(w, "Extender: could not ask it: %s\n", e.ExtenderError)
		if len(e.FailedScheduling) == 0 {
			fmt.Fprintln(w, "No FailedScheduling events.")
			return
		}
		fmt.Fprintln(w, "FailedScheduling events instead:")
		tw = newTable(w, "  LAST SEEN", "COUNT", "MESSAGE")
		for _, ev := range e.FailedScheduling {
			row(tw, "  "+e.age(ev.LastSeen), fmt.Sprint(ev.Count), ev.Message)
		}
		tw.Flush()
		return
	}
	shown := 0
	for _, a := range e.Extender {
		if a.Error != "" {
			fmt.Fprintf(w, "Extender %s: %s\n", a.Source, a.Error)
			continue
		}
		for _, d := range a.Decisions {
			if shown == maxTableDecisions {
				fmt.Fprintf(w, "(older decisions: -o json)\n")
				return
			}
			shown++
			e.decisionTable(w, a.Source, d)
		}
	}
	if shown == 0 {
		fmt.Fprintln(w, "Extender: no decision about this pod (not scheduled by the hdscale scheduler, or older than the extender's recent decisions).")
	}
}

func (e *Explain) decisionTable(w io.Writer, source string, d extender.Decision) {
	fmt.Fprintf(w, "Extender %s %s %s ago: %s", source, d.Verb, e.age(d.Time), d.Result)
	if d.Chosen != "" {
		fmt.Fprintf(w, ", chose %s", d.Chosen)
	}
	fmt.Fprintf(w, " (%d of %d nodes passed)\n", d.Passed, d.Candidates)
	if d.Message != "" {
		fmt.Fprintf(w, "  %s\n", d.Message)
	}
	if len(d.Nodes) == 0 {
		return
	}
	tw := newTable(w, "  NODE", "VERDICT", "REASON", "SCORE", "DATA", "UTIL%", "REPLICAS")
	for _, n := range d.Nodes {
		score := ""
		if n.Score != nil {
			score = fmt.Sprint(*n.Score)
		}
		replicas := fmt.Sprint(n.Replicas)
		if n.Cap > 0 {
			replicas += fmt.Sprintf("/%d", n.Cap)
		}
		row(tw, "  "+n.Node, n.Verdict, n.Reason, score, n.Data, fmt.Sprintf("%.1f", n.UtilPercent), replicas)
	}
	tw.Flush()
	if d.NodesOmitted > 0 {
		fmt.Fprintf(w, "  (%d more nodes)\n", d.NodesOmitted)
	}
}

func (e *Explain) labelsText() string {
	a := e.Decision
	switch {
	case e.LabelsMatch == nil:
		return a.LabelsHash + " (namespace not readable)"
	case *e.LabelsMatch:
		return a.LabelsHash + " (matches the namespace's labels)"
	default:
		return fmt.Sprintf("%s (the namespace's labels changed since: now %s; see kubectl hdscale drift)", a.LabelsHash, e.LabelsHashNow)
	}
}

func (e *Explain) age(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return duration.HumanDuration(e.now.Sub(t))
}

func cpuText(req, lim string) string {
	if req == "" && lim == "" {
		return ""
	}
	return "request " + orText(req, "-") + ", limit " + orText(lim, "-")
}

func sizedFromText(a *policy.Annotation) string {
	s := string(a.SizedFrom)
	if a.NodeCPU != "" {
		s += " (node CPU " + a.NodeCPU + ")"
	}
	return s
}

func itoaOrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return itoa(n)
}
