package main

import "testing"

func TestWantGOMAXPROCS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		current, workers int
		pinned           bool
		want             int
	}{
		{current: 1, workers: 1, want: 2},
		{current: 2, workers: 4, want: 5},
		{current: 8, workers: 2, want: 8},
		{current: 1, workers: 4, pinned: true, want: 1},
	}
	for _, tt := range tests {
		if got := wantGOMAXPROCS(tt.current, tt.workers, tt.pinned); got != tt.want {
			t.Errorf("wantGOMAXPROCS(%d, %d, %v) = %d, want %d", tt.current, tt.workers, tt.pinned, got, tt.want)
		}
	}
}
