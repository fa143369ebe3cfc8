package trace_test

import (
	"os"

	"github.com/tundra-net/tundra/tcp"
	"github.com/tundra-net/tundra/trace"
)

// A Tracer is a tcp.Observer: give it to stack.Options.Observer (here it is
// called by hand, as a connection would call it) and subscribe a Ladder.
func Example() {
	tr := trace.New(nil)
	ladder := trace.NewLadder(os.Stdout, "us", "peer")
	tr.Subscribe(trace.LadderKinds, ladder.Handle)

	id := tcp.FourTuple{LocalAddr: [4]byte{198, 18, 0, 2}, RemoteAddr: [4]byte{198, 18, 0, 1}, LocalPort: 80, RemotePort: 5555}
	tr.StateChanged(id, tcp.Closed, tcp.Listen, tcp.EventPassiveOpen)
	tr.SegmentReceived(id, &tcp.Segment{HeaderFields: tcp.HeaderFields{Flags: tcp.FlagSYN, Seq: 1000, Window: 64240}})
	tr.StateChanged(id, tcp.Listen, tcp.SynReceived, tcp.EventRecvSYN)
	tr.SegmentSent(id, &tcp.HeaderFields{Flags: tcp.FlagSYN | tcp.FlagACK, Seq: 5000, Ack: 1001, Window: 65535}, 0, false)
	tr.SegmentReceived(id, &tcp.Segment{HeaderFields: tcp.HeaderFields{Flags: tcp.FlagACK, Seq: 1001, Ack: 5001, Window: 502}})
	tr.StateChanged(id, tcp.SynReceived, tcp.Established, tcp.EventRecvACKOfSYN)
	ladder.Flush()
	// Output:
	// -- connection 198.18.0.2:80 (us) <-> 198.18.0.1:5555 (peer)
	// peer -> us   SYN         seq=0 win=64240                          peer: CLOSED -> SYN-SENT (inferred); us: LISTEN -> SYN-RECEIVED
	// us   -> peer SYN+ACK     seq=0 ack=1 win=65535                    peer: SYN-SENT -> ESTABLISHED (inferred)
	// peer -> us   ACK         seq=1 ack=1                              us: SYN-RECEIVED -> ESTABLISHED
}

// JSONLines writes one object per event, for jq and plotting scripts.
func ExampleJSONLines() {
	tr := trace.New(nil)
	tr.Subscribe(trace.StateChange, trace.JSONLines(os.Stdout))
	id := tcp.FourTuple{LocalAddr: [4]byte{198, 18, 0, 1}, RemoteAddr: [4]byte{198, 18, 0, 2}, LocalPort: 40000, RemotePort: 80}
	tr.StateChanged(id, tcp.Closed, tcp.SynSent, tcp.EventActiveOpen)
	// Output:
	// {"t_ns":0,"kind":"state","local":"198.18.0.1:40000","remote":"198.18.0.2:80","from":"CLOSED","to":"SYN-SENT","cause":"active OPEN"}
}
