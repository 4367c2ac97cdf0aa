package webhook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/hdscale/hdscale/internal/kube"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"
)

// ReasonSchedulerUnavailable is the reason of the Warning event a Pending
// runtime pod gets while no hdscale-scheduler runs.
const ReasonSchedulerUnavailable = "SchedulerUnavailable"

// SchedulerWatch follows the leader lease of hdscale-scheduler. A scheduler
// that is down writes nothing (no event, no condition), so its outage is
// made visible here, by the webhook: a metric that does not depend on
// anybody's readiness, an admission warning on runtime pods created during
// the outage, and (Run, on one webhook replica) a Warning event on every
// runtime pod that stays Pending through it.
type SchedulerWatch struct {
	client        kubernetes.Interface
	namespace     string
	lease         string
	schedulerName string
	clock         clock.Clock
	log           logr.Logger

	factory informers.SharedInformerFactory
	leases  coordinationlisters.LeaseLister
	synced  cache.InformerSynced

	recorder events.EventRecorder
	emitted  prometheus.Counter

	// Pending lists the scheduler's unbound pods from a cache (the drift
	// tracker's pod informer): an outage costs no extra API reads.
	Pending func() ([]*corev1.Pod, error)

	mu     sync.Mutex
	warned map[types.UID]bool
}

// NewSchedulerWatch watches lease namespace/name of the scheduler that
// places pods with schedulerName. Metrics are registered on reg.
func NewSchedulerWatch(client kubernetes.Interface, namespace, name, schedulerName string, clk clock.Clock, reg prometheus.Registerer, log logr.Logger) (*SchedulerWatch, error) {
	if client == nil || reg == nil {
		return nil, errors.New("webhook: NewSchedulerWatch: nil client or registry")
	}
	w := &SchedulerWatch{
		client: client, namespace: namespace, lease: name, schedulerName: schedulerName, clock: clk,
		log: log.WithName("scheduler-watch"), warned: map[types.UID]bool{},
		factory: informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(namespace),
			informers.WithTweakListOptions(kube.CapWatch(kube.MaxWatch, func(o *metav1.ListOptions) {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
			}))),
	}
	inf := w.factory.Coordination().V1().Leases()
	w.leases, w.synced = inf.Lister(), inf.Informer().HasSynced
	w.emitted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hdscale_webhook_scheduler_unavailable_events_total",
		Help: "Warning events (reason SchedulerUnavailable) written on Pending runtime pods while no hdscale-scheduler leader ran.",
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hdscale_scheduler_leader_age_seconds",
		Help: "Seconds since hdscale-scheduler's leader last renewed its lease (-1: no lease or no holder). Alert when above ~30: no scheduler places runtime pods.",
	}, func() float64 {
		s := w.Status()
		if !s.Found || s.Holder == "" {
			return -1
		}
		return s.Age.Seconds()
	})
	live := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hdscale_scheduler_live",
		Help: "1 while hdscale-scheduler has a leader that renews its lease, else 0 (runtime pods stay Pending).",
	}, func() float64 {
		if w.Status().Live {
			return 1
		}
		return 0
	})
	var errs []error
	for _, c := range []prometheus.Collector{w.emitted, age, live} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registering scheduler watch metrics: %w", err)
	}
	return w, nil
}

// Start starts the lease informer and waits until it synced.
func (w *SchedulerWatch) Start(ctx context.Context) error {
	w.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), w.synced) {
		return fmt.Errorf("webhook: stopped before the scheduler lease cache synced: %w", ctx.Err())
	}
	return nil
}

// Status judges the scheduler's lease now. Before the cache synced it
// reports the scheduler live (nothing is known against it).
func (w *SchedulerWatch) Status() SchedulerStatus {
	if !w.synced() {
		return SchedulerStatus{Live: true, Found: true}
	}
	l, err := w.leases.Leases(w.namespace).Get(w.lease)
	if err != nil {
		l = nil
	}
	return SchedulerStatusOf(l, w.clock.Now())
}

// LeaseName is namespace/name of the watched lease.
func (w *SchedulerWatch) LeaseName() string { return w.namespace + "/" + w.lease }

// Warning is the admission warning for a runtime pod given the scheduler
// while it is down ("" while it is live).
func (w *SchedulerWatch) Warning() string {
	s := w.Status()
	if s.Live {
		return ""
	}
	return fmt.Sprintf("hdscale: no live %s (%s): the pod stays Pending until it returns", w.schedulerName, s.Short())
}

// RunEvents writes, every interval while the scheduler is down, a Warning
// event on each Pending pod of the scheduler that has none for this outage
// yet, until ctx ends. Run it on one webhook replica (leader election).
func (w *SchedulerWatch) RunEvents(ctx context.Context, interval time.Duration) error {
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: w.client.EventsV1()})
	b.StartRecordingToSink(ctx.Done())
	defer b.Shutdown()
	w.recorder = b.NewRecorder(scheme.Scheme, "hdscale-webhook")
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := w.emitOnce(ctx); err != nil {
			w.log.Error(err, "checking Pending runtime pods during a scheduler outage")
		}
	}, interval)
	return nil
}

// emitOnce is one round of RunEvents.
func (w *SchedulerWatch) emitOnce(ctx context.Context) error {
	s := w.Status()
	if s.Live {
		w.mu.Lock()
		if len(w.warned) > 0 {
			w.log.Info("hdscale-scheduler is live again", "lease", w.LeaseName(), "holder", s.Holder, "podsWarned", len(w.warned))
			clear(w.warned)
		}
		w.mu.Unlock()
		return nil
	}
	if w.Pending == nil {
		return errors.New("webhook: SchedulerWatch.Pending is not set")
	}
	pods, err := w.Pending()
	if err != nil {
		return fmt.Errorf("listing Pending pods of %s: %w", w.schedulerName, err)
	}
	note := fmt.Sprintf("No live %s (%s): nothing places this pod until a scheduler replica runs again "+
		"(kubectl -n %s get pods,lease; metric hdscale_scheduler_live)", w.schedulerName, s.Describe(w.LeaseName()), w.namespace)
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range pods {
		if w.warned[p.UID] || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodPending {
			continue
		}
		w.recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonSchedulerUnavailable, "Scheduling", note)
		w.warned[p.UID] = true
		w.emitted.Inc()
	}
	w.log.Info("hdscale-scheduler is down", "lease", w.LeaseName(), "status", s.Describe(w.LeaseName()), "pendingPods", len(pods))
	return nil
}

// OutageLeaseName is the lease the webhook replicas elect the one that
// writes SchedulerUnavailable events with.
const OutageLeaseName = "hdscale-webhook"

// runOutageEvents runs sw.RunEvents on the replica that leads lease
// OutageLeaseName, campaigning again after a lost leadership, until ctx ends.
func runOutageEvents(ctx context.Context, client kubernetes.Interface, opts Options, sw *SchedulerWatch, log logr.Logger) {
	id := opts.Identity
	if id == "" {
		id, _ = os.Hostname()
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: opts.Namespace, Name: OutageLeaseName},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	log = log.WithName("outage-events")
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			ReleaseOnCancel: true, Name: OutageLeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					log.Info("leading: writing SchedulerUnavailable events", "identity", id)
					_ = sw.RunEvents(ctx, 10*time.Second)
				},
				OnStoppedLeading: func() { log.Info("stopped leading", "identity", id) },
			},
		})
	}, time.Second)
}
