package impair_test

import (
	"fmt"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/impair"
	"github.com/tundra-net/tundra/link/pipe"
)

// An impaired link on a virtual clock: 20% loss and 40ms of delay on the
// way out. The same seed gives the same losses on every run.
func ExampleNew() {
	ours, theirs := pipe.New(pipe.Options{})
	clk := clock.NewVirtual(time.Unix(0, 0))
	link0 := impair.New(ours, impair.Config{
		Write: impair.Direction{Seed: 2, Loss: 0.2, Delay: 40 * time.Millisecond},
	}, clk)
	defer link0.Close()

	for i := range 10 {
		link0.WritePackets([]link.Packet{{Data: []byte{0x45, byte(i)}}})
	}
	fmt.Println("at  0ms:", theirs.Pending(), "packets")
	clk.Advance(40 * time.Millisecond)
	fmt.Println("at 40ms:", theirs.Pending(), "packets")

	in := make([]link.Packet, 10)
	for i := range in {
		in[i].Data = make([]byte, 0, theirs.MaxPacketSize())
	}
	n, _ := theirs.ReadPackets(in)
	var arrived []byte
	for _, p := range in[:n] {
		arrived = append(arrived, p.Data[1])
	}
	fmt.Println("arrived:", arrived)
	st := link0.Stats().Write
	fmt.Printf("sent %d, lost %d, delayed %d, delivered %d\n", st.Packets, st.Lost, st.Delayed, st.Delivered)
	// Output:
	// at  0ms: 0 packets
	// at 40ms: 7 packets
	// arrived: [1 2 4 5 6 7 9]
	// sent 10, lost 3, delayed 7, delivered 7
}
