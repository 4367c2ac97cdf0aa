package logging

import "testing"

func TestOptions(t *testing.T) {
	t.Parallel()
	for _, lvl := range []string{"debug", "info", "error"} {
		if err := (Options{Level: lvl}).Validate(); err != nil {
			t.Errorf("level %s: %v", lvl, err)
		}
		if _, flush, err := New(Options{Level: lvl}); err != nil {
			t.Errorf("New(%s): %v", lvl, err)
		} else {
			flush()
		}
	}
	if err := (Options{Level: "loud"}).Validate(); err == nil {
		t.Error("bad level accepted")
	}
	if _, _, err := New(Options{Level: "loud"}); err == nil {
		t.Error("New accepted a bad level")
	}
}
