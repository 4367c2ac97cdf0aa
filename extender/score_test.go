package extender

import (
	"testing"
	"time"

	"github.com/hdscale/hdscale/internal/policy"
	v1 "k8s.io/api/core/v1"
)

func TestScoreOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		util float64
		want int64
	}{{0, 10}, {0.05, 9}, {0.1, 9}, {0.3, 7}, {0.7, 3}, {0.95, 0}, {1, 0}, {2.5, 0}, {-1, 10}}
	for _, tt := range tests {
		if got := scoreOf(tt.util); got != tt.want {
			t.Errorf("scoreOf(%v) = %d, want %d", tt.util, got, tt.want)
		}
	}
}

func TestAssessLiveAndFallback(t *testing.T) {
	t.Parallel()
	placed := t0.Add(-20 * time.Second)
	fresh := t0.Add(-10 * time.Second) // window [t0-25s, t0-10s] began before placement
	replica := bound(runtimePod("team", "x", policy.PerCore, "runtime", 1000, 2000), "r-0", placed, placed)
	ds := bound(plainPod("kube-system", "ds", 300), "r-0", placed, placed)
	tests := []struct {
		name     string
		samples  []NodeSample
		wantLive bool
		wantLoad int64
	}{
		{"fresh sample: usage + estimate of replicas it does not include", []NodeSample{sample("r-0", 500, fresh)}, true, 500 + 2000},
		{"newer sample includes the replica: estimate decays", []NodeSample{sample("r-0", 2300, placed.Add(16*time.Second))}, true, 2300},
		{"stale sample: requests", []NodeSample{sample("r-0", 500, t0.Add(-46*time.Second))}, false, 1000 + 300},
		{"no sample: requests", nil, false, 1300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap := Build(Input{Nodes: poolNodes("r", "runtime", 1), Pods: []*v1.Pod{replica, ds}, Samples: tt.samples, Now: t0, ShapeTolerance: 0.05})
			evs := evsFor(snap, "r-0")
			c := evalCtxFor(t, snap, nil, runtimePod("team", "new", policy.PerCore, "runtime", 1000, 1000), t0, Default())
			u := c.assess(&evs[0])
			ev := evs[0]
			if ev.Live != tt.wantLive || int64(ev.LoadMilli) != tt.wantLoad {
				t.Errorf("live=%v load=%d, want %v %d (%+v)", ev.Live, ev.LoadMilli, tt.wantLive, tt.wantLoad, ev)
			}
			if want := float64(tt.wantLoad) / 4000; u != want || ev.Util != float32(want) {
				t.Errorf("util = %v (%v), want %v", u, ev.Util, want)
			}
			if len(tt.samples) == 0 && ev.SampleAge() != -1 {
				t.Errorf("sample age without a sample = %v", ev.SampleAge())
			}
		})
	}
}

func TestScoreBurstEstimate(t *testing.T) {
	t.Parallel()
	// Two idle nodes, fresh samples. After the extender reserved r-0 for a
	// per-core replica, r-0 carries its limit as estimate and r-1 wins.
	fresh := t0.Add(-5 * time.Second)
	snap := Build(Input{Nodes: poolNodes("r", "runtime", 2), Samples: []NodeSample{sample("r-0", 0, fresh), sample("r-1", 0, fresh)}, Now: t0, ShapeTolerance: 0.05})
	res := NewReservations(time.Minute)
	res.Reserve(Reservation{UID: "first", Node: "r-0", Group: groupKey{"team", "runtime"}, EstimateMilli: 2000, RequestMilli: 1000}, t0)
	evs := evsFor(snap, "r-0", "r-1")
	win := evalCtxFor(t, snap, res, runtimePod("team", "second", policy.PerCore, "runtime", 1000, 2000), t0, Default()).score(evs)
	if win != 1 || evs[0].EstimateMilli != 2000 || evs[0].Score != 5 || evs[1].Score != 10 {
		t.Errorf("winner %d, evs %+v", win, evs)
	}
	// Fallback: the reservation adds its request instead.
	snap = Build(Input{Nodes: poolNodes("r", "runtime", 2), Now: t0, ShapeTolerance: 0.05})
	evs = evsFor(snap, "r-0", "r-1")
	evalCtxFor(t, snap, res, runtimePod("team", "second", policy.PerCore, "runtime", 1000, 2000), t0, Default()).score(evs)
	if evs[0].Live || evs[0].LoadMilli != 1000 {
		t.Errorf("fallback load with a reservation = %+v", evs[0])
	}
}

func TestScoreTieBreakAndUniqueMax(t *testing.T) {
	t.Parallel()
	fresh := t0.Add(-5 * time.Second)
	placed := t0.Add(-time.Hour)
	tests := []struct {
		name       string
		samples    []NodeSample
		pods       []*v1.Pod
		nodes      []string
		wantWinner string
		wantScores map[string]int32
	}{
		{
			name:    "all idle: node name decides",
			samples: []NodeSample{sample("r-0", 0, fresh), sample("r-1", 0, fresh), sample("r-2", 0, fresh)},
			nodes:   []string{"r-2", "r-0", "r-1"}, wantWinner: "r-0",
			wantScores: map[string]int32{"r-0": 10, "r-1": 9, "r-2": 9},
		},
		{
			name:    "fewest runtime replicas first",
			samples: []NodeSample{sample("r-0", 100, fresh), sample("r-1", 150, fresh), sample("r-2", 100, fresh)},
			pods: []*v1.Pod{
				bound(runtimePod("a", "x", policy.PerCore, "runtime", 10, 10), "r-0", placed, placed),
				bound(runtimePod("b", "y", policy.PerCore, "runtime", 10, 10), "r-2", placed, placed),
			},
			nodes: []string{"r-0", "r-1", "r-2"}, wantWinner: "r-1",
			wantScores: map[string]int32{"r-0": 8, "r-1": 9, "r-2": 8},
		},
		{
			name:    "then lowest utilisation",
			samples: []NodeSample{sample("r-0", 150, fresh), sample("r-1", 100, fresh), sample("r-2", 120, fresh)},
			nodes:   []string{"r-0", "r-1", "r-2"}, wantWinner: "r-1",
			wantScores: map[string]int32{"r-0": 8, "r-1": 9, "r-2": 8},
		},
		{
			name:    "a clearly lighter node wins on score",
			samples: []NodeSample{sample("r-0", 2000, fresh), sample("r-1", 400, fresh), sample("r-2", 3000, fresh)},
			nodes:   []string{"r-0", "r-1", "r-2"}, wantWinner: "r-1",
			wantScores: map[string]int32{"r-0": 5, "r-1": 9, "r-2": 2},
		},
		{
			name:    "all saturated: the winner is raised to 1",
			samples: []NodeSample{sample("r-0", 4000, fresh), sample("r-1", 4100, fresh)},
			nodes:   []string{"r-0", "r-1"}, wantWinner: "r-0",
			wantScores: map[string]int32{"r-0": 1, "r-1": 0},
		},
		{
			name:    "ineligible and unknown nodes score 0 and never win",
			samples: []NodeSample{sample("r-0", 3000, fresh), sample("gpu-0", 0, fresh)},
			nodes:   []string{"gpu-0", "ghost", "r-0"}, wantWinner: "r-0",
			wantScores: map[string]int32{"gpu-0": 0, "ghost": 0, "r-0": 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nodes := append(poolNodes("r", "runtime", 3), node("gpu-0", "gpu", 4000, 16*gi))
			snap := Build(Input{Nodes: nodes, Pods: tt.pods, Samples: tt.samples, Now: t0, ShapeTolerance: 0.05})
			pod := runtimePod("team", "new", policy.PerCore, "runtime", 1000, 1000)
			// Deterministic: the same input gives the same answer every time.
			for range 3 {
				evs := evsFor(snap, tt.nodes...)
				win := evalCtxFor(t, snap, nil, pod, t0, Default()).score(evs)
				if win < 0 || evs[win].Name != tt.wantWinner {
					t.Fatalf("winner %d (%+v), want %s", win, evs, tt.wantWinner)
				}
				top := 0
				for _, ev := range evs {
					if ev.Score == evs[win].Score {
						top++
					}
					if want := tt.wantScores[ev.Name]; ev.Score != want {
						t.Errorf("%s score %d, want %d", ev.Name, ev.Score, want)
					}
				}
				if top != 1 {
					t.Errorf("maximum is not unique: %+v", evs)
				}
			}
		})
	}
}

func TestScoreNoEligibleNode(t *testing.T) {
	t.Parallel()
	snap := Build(Input{Nodes: []*v1.Node{node("gpu-0", "gpu", 4000, 16*gi)}, Now: t0})
	evs := evsFor(snap, "gpu-0", "ghost")
	if win := evalCtxFor(t, snap, nil, runtimePod("team", "p", policy.PerCore, "runtime", 1000, 1000), t0, Default()).score(evs); win != -1 {
		t.Errorf("winner %d among ineligible nodes", win)
	}
}
