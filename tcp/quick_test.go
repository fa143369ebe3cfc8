package tcp

import "testing"

func TestQuickStates(t *testing.T) {
	for st := Closed; st <= TimeWait; st++ {
		toState(t, st)
	}
}
