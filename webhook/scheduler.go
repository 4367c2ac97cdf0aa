package webhook

import (
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// SchedulerLeaseGrace is how long past its lease duration a scheduler
// leader's lease may go unrenewed before the scheduler counts as down: a
// healthy leader renews every retryPeriod (2s), and a standby takes over
// within one lease duration (15s) of the leader's loss.
const SchedulerLeaseGrace = 5 * time.Second

// SchedulerStatus is what the leader lease of hdscale-scheduler says.
type SchedulerStatus struct {
	// Live: a leader renewed the lease within its duration plus grace.
	Live bool
	// Found: the lease exists.
	Found  bool
	Holder string
	// Age is the time since the last renewal (0 when not Found).
	Age time.Duration
}

// SchedulerStatusOf judges lease at now (lease nil: not found). A lease
// without renew time or holder counts as down: nobody leads.
func SchedulerStatusOf(lease *coordinationv1.Lease, now time.Time) SchedulerStatus {
	if lease == nil {
		return SchedulerStatus{}
	}
	s := SchedulerStatus{Found: true}
	if lease.Spec.HolderIdentity != nil {
		s.Holder = *lease.Spec.HolderIdentity
	}
	if lease.Spec.RenewTime == nil || s.Holder == "" {
		return s
	}
	s.Age = max(now.Sub(lease.Spec.RenewTime.Time), 0)
	duration := 15 * time.Second
	if lease.Spec.LeaseDurationSeconds != nil && *lease.Spec.LeaseDurationSeconds > 0 {
		duration = time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	}
	s.Live = s.Age <= duration+SchedulerLeaseGrace
	return s
}

// Describe says why the scheduler counts as down, for warnings and events.
func (s SchedulerStatus) Describe(lease string) string {
	switch {
	case s.Live:
		return fmt.Sprintf("leader %s renewed lease %s %s ago", s.Holder, lease, s.Age.Round(time.Second))
	case !s.Found:
		return fmt.Sprintf("no leader lease %s: hdscale-scheduler never ran or was removed", lease)
	case s.Holder == "":
		return fmt.Sprintf("lease %s has no holder: no hdscale-scheduler leads", lease)
	}
	return fmt.Sprintf("leader lease %s last renewed %s ago by %s", lease, s.Age.Round(time.Second), s.Holder)
}

// Short is Describe without names, for admission warnings (120 bytes).
func (s SchedulerStatus) Short() string {
	switch {
	case !s.Found:
		return "no leader lease"
	case s.Holder == "":
		return "its lease has no holder"
	}
	return fmt.Sprintf("leader lease renewed %s ago", s.Age.Round(time.Second))
}
