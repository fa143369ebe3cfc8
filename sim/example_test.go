package sim_test

import (
	"fmt"
	"time"

	"github.com/tundra-net/tundra/sim"
)

// Send 1 MB over a clean 10 Mbit/s path with a 10 ms one-way delay and a
// bottleneck queue longer than the window: the run takes a fraction of a
// real second and about a second of simulated time.
func ExampleRun() {
	res, err := sim.Run(sim.Config{Delay: 10 * time.Millisecond, Rate: 10e6, RateQueue: 1000, Size: 1e6})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("retransmissions:", res.Retransmissions)
	fmt.Println("faster than 8 Mbit/s:", res.Goodput > 8e6)
	// Output:
	// retransmissions: 0
	// faster than 8 Mbit/s: true
}
