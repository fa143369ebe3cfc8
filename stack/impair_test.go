package stack

import (
	"flag"
	"testing"
	"time"

	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/impair"
)

var impairSize = flag.Int("impair.mib", 64, "MiB sent each way by TestTransferOverImpairedLink")

// TestTransferOverImpairedLink sends 64 MiB each way at once over a link
// that loses 5%, duplicates 2% and reorders 5% of the packets in each
// direction (seeded, so a failure can be replayed), and checks both
// directions' sha256.
func TestTransferOverImpairedLink(t *testing.T) {
	size := *impairSize << 20
	if testing.Short() {
		size = 4 << 20
	}
	impaired := func(seed uint64) impair.Config {
		return impair.Config{Write: impair.Direction{Seed: seed, Loss: 0.05, Duplicate: 0.02, Reorder: 0.05}}
	}
	var ia, ib *impair.Endpoint
	wrap := func(a, b link.Endpoint) (link.Endpoint, link.Endpoint) {
		ia, ib = impair.New(a, impaired(1), nil), impair.New(b, impaired(2), nil)
		return ia, ib
	}
	a, b := stackPair(t, wrap, Options{})
	c1, c2 := connPair(t, a, b)
	start := time.Now()
	transfer(t, c1, c2, size)
	elapsed := time.Since(start)
	s1, s2 := c1.Stats(), c2.Stats()
	t.Logf("%d MiB each way in %v (%.0f Mbit/s each way)", size>>20, elapsed.Round(time.Millisecond),
		float64(size)*8/elapsed.Seconds()/1e6)
	t.Logf("A->B link: %+v", ia.Stats().Write)
	t.Logf("B->A link: %+v", ib.Stats().Write)
	t.Logf("A: retransmissions %d (timeouts %d, fast %d), sent %d bytes; B: retransmissions %d (timeouts %d, fast %d), sent %d bytes",
		s1.Retransmissions, s1.Timeouts, s1.FastRetransmits, s1.BytesSent, s2.Retransmissions, s2.Timeouts, s2.FastRetransmits, s2.BytesSent)
	c1.Close()
	c2.Close()
}
