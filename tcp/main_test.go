package tcp

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain checks, after a full run of the suite, that every transition in
// the Transitions table was exercised by some test, and that no test saw a
// transition missing from the table (the Observer in harness_test.go
// records them). With -run or -fuzz only part of the suite runs, so the
// check is skipped.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code != 0 || flag.Lookup("test.run").Value.String() != "" || flag.Lookup("test.fuzz").Value.String() != "" {
		os.Exit(code)
	}
	known := map[Transition]bool{}
	for _, tr := range Transitions {
		known[tr] = true
	}
	for tr := range exercised {
		if !known[tr] {
			fmt.Printf("FAIL: transition %v --%v--> %v is not in the Transitions table\n", tr.From, tr.Event, tr.To)
			code = 1
		}
	}
	for _, tr := range Transitions {
		if !exercised[tr] {
			fmt.Printf("FAIL: transition %v --%v--> %v was never exercised\n", tr.From, tr.Event, tr.To)
			code = 1
		}
	}
	os.Exit(code)
}
