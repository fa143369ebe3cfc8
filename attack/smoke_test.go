//go:build linux

package attack

import "testing"

// TestBaseline checks the harness itself: a fresh stack serves, and with
// nothing done to it, it is at its baseline.
func TestBaseline(t *testing.T) {
	e := newEnv(t)
	e.checkRecovered(5e9)
}
