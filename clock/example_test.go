package clock_test

import (
	"fmt"
	"time"

	"github.com/tundra-net/tundra/clock"
)

// A virtual clock runs timers only when it is advanced, in deadline
// order, so a test can step through time exactly.
func ExampleVirtual() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewVirtual(start)
	clk.AfterFunc(200*time.Millisecond, func() { fmt.Println("retransmission timer at", clk.Now().Sub(start)) })
	t := clk.AfterFunc(40*time.Millisecond, func() { fmt.Println("delayed ACK at", clk.Now().Sub(start)) })
	clk.AfterFunc(10*time.Millisecond, func() { fmt.Println("first at", clk.Now().Sub(start)) })

	clk.Advance(50 * time.Millisecond)
	t.Reset(100 * time.Millisecond) // fired already: runs again 100ms from now
	for clk.AdvanceToNext() {
	}
	fmt.Println("pending:", clk.Pending())
	// Output:
	// first at 10ms
	// delayed ACK at 40ms
	// delayed ACK at 150ms
	// retransmission timer at 200ms
	// pending: 0
}
