package coalesce

import "testing"

func TestSignal(t *testing.T) {
	t.Parallel()
	s := New()
	select {
	case <-s.C():
		t.Fatal("a new Signal is pending")
	default:
	}
	for range 3 {
		s.Mark() // never blocks
	}
	select {
	case <-s.C():
	default:
		t.Fatal("no wake-up after Mark")
	}
	select {
	case <-s.C():
		t.Fatal("three Marks before a receive were more than one wake-up")
	default:
	}
	s.Mark()
	select {
	case <-s.C():
	default:
		t.Fatal("no wake-up after a Mark following a receive")
	}
}
