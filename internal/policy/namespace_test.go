package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		labels    map[string]string
		optedIn   bool
		want      Namespace
		errLabels []string // labels the error must name
	}{
		{name: "no labels", labels: nil, optedIn: false},
		{name: "unrelated labels", labels: map[string]string{"team": "a"}, optedIn: false},
		{
			name:    "defaults",
			labels:  map[string]string{LabelPattern: "per-node"},
			optedIn: true,
			want:    Namespace{Pattern: PerNode, Pool: "runtime", Conflict: ConflictFill, Mode: ModeEnforce, WorkersPerCore: 1, Scheduler: SchedulerHdscale},
		},
		{
			name: "all set",
			labels: map[string]string{LabelPattern: "per-core", LabelPool: "gpu-a", LabelConflict: "reject",
				LabelMode: "audit", LabelCPU: "1500m", LabelWorkersPerCore: "2", LabelScheduler: "default"},
			optedIn: true,
			want:    Namespace{Pattern: PerCore, Pool: "gpu-a", Conflict: ConflictReject, Mode: ModeAudit, CPUMilli: 1500, WorkersPerCore: 2, Scheduler: SchedulerDefault},
		},
		{name: "bad pattern", labels: map[string]string{LabelPattern: "per-pod"}, optedIn: true, errLabels: []string{LabelPattern}},
		{name: "empty pattern", labels: map[string]string{LabelPattern: ""}, optedIn: true, errLabels: []string{LabelPattern}},
		{name: "bad pool", labels: map[string]string{LabelPattern: "per-node", LabelPool: "-x"}, optedIn: true, errLabels: []string{LabelPool}},
		{name: "empty pool", labels: map[string]string{LabelPattern: "per-node", LabelPool: ""}, optedIn: true, errLabels: []string{LabelPool}},
		{name: "bad conflict and mode", labels: map[string]string{LabelPattern: "per-node", LabelConflict: "merge", LabelMode: "dry"}, optedIn: true, errLabels: []string{LabelConflict, LabelMode}},
		{name: "bad cpu", labels: map[string]string{LabelPattern: "per-core", LabelCPU: "lots"}, optedIn: true, errLabels: []string{LabelCPU}},
		{name: "zero cpu", labels: map[string]string{LabelPattern: "per-core", LabelCPU: "0"}, optedIn: true, errLabels: []string{LabelCPU}},
		{name: "huge cpu", labels: map[string]string{LabelPattern: "per-core", LabelCPU: "2000"}, optedIn: true, errLabels: []string{LabelCPU}},
		// Found by FuzzValidateNamespace: a valid label value that took
		// resource.ParseQuantity minutes (see quantityguard).
		{name: "cpu the parser would spend minutes on", labels: map[string]string{LabelPattern: "per-core", LabelCPU: ".8E38388880032"}, optedIn: true, errLabels: []string{LabelCPU}},
		{name: "bad workers", labels: map[string]string{LabelPattern: "per-node", LabelWorkersPerCore: "0"}, optedIn: true, errLabels: []string{LabelWorkersPerCore}},
		{name: "workers not int", labels: map[string]string{LabelPattern: "per-node", LabelWorkersPerCore: "1.5"}, optedIn: true, errLabels: []string{LabelWorkersPerCore}},
		{name: "bad scheduler", labels: map[string]string{LabelPattern: "per-node", LabelScheduler: "volcano"}, optedIn: true, errLabels: []string{LabelScheduler}},
		{name: "typo label", labels: map[string]string{LabelPattern: "per-node", "hdscale.io/patern": "per-core"}, optedIn: true, errLabels: []string{"hdscale.io/patern"}},
		{name: "bad label without opt-in", labels: map[string]string{LabelPool: "a b"}, optedIn: false, errLabels: []string{LabelPool}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, optedIn, err := Parse(tt.labels)
			if optedIn != tt.optedIn {
				t.Fatalf("optedIn = %v, want %v", optedIn, tt.optedIn)
			}
			if len(tt.errLabels) > 0 {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want *ValidationError", err)
				}
				if len(ve.Problems) != len(tt.errLabels) {
					t.Fatalf("problems = %v, want one per %v", ve.Problems, tt.errLabels)
				}
				for _, l := range tt.errLabels {
					if !strings.Contains(err.Error(), l) {
						t.Errorf("error %q does not name %s", err, l)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.optedIn && got.LabelsHash == "" {
				t.Error("opted-in namespace has no labels hash")
			}
			got.LabelsHash = ""
			if tt.optedIn && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrorNamesAllowedValues(t *testing.T) {
	t.Parallel()
	_, _, err := Parse(map[string]string{LabelPattern: "per-pod"})
	if err == nil || !strings.Contains(err.Error(), "per-node, per-node-single, per-core") {
		t.Fatalf("error %v does not list the allowed patterns", err)
	}
}

func TestLabelsHash(t *testing.T) {
	t.Parallel()
	a := map[string]string{LabelPattern: "per-node", LabelPool: "runtime", "team": "x"}
	b := map[string]string{LabelPool: "runtime", LabelPattern: "per-node", "team": "y"}
	if LabelsHash(a) != LabelsHash(b) {
		t.Error("hash depends on map order or non-hdscale labels")
	}
	c := map[string]string{LabelPattern: "per-core", LabelPool: "runtime"}
	if LabelsHash(a) == LabelsHash(c) {
		t.Error("hash does not change with the pattern")
	}
	// "k=v" boundaries must not be ambiguous.
	d := map[string]string{LabelPattern: "per-node\nhdscale.io/pool=runtime"}
	if LabelsHash(a) == LabelsHash(d) {
		t.Error("hash is ambiguous across label boundaries")
	}
}
