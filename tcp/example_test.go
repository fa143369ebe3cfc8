package tcp_test

import (
	"fmt"
	"time"

	"github.com/tundra-net/tundra/tcp"
)

// Build a SYN with HeaderFields, checksum it, and read it back through the
// Header view.
func ExampleParseHeader() {
	src, dst := [4]byte{198, 18, 0, 1}, [4]byte{198, 18, 0, 2}
	f := tcp.HeaderFields{
		SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: tcp.FlagSYN, Window: 65535,
		Options: tcp.Options{HasMSS: true, MSS: 1460, HasWindowScale: true, WindowScale: 7},
	}
	seg := make([]byte, f.Len())
	if _, err := f.Encode(seg); err != nil {
		panic(err)
	}
	tcp.SetChecksum(seg, src, dst)

	h, err := tcp.ParseHeader(seg)
	if err != nil {
		panic(err)
	}
	opts, err := tcp.ParseOptions(h.Options())
	if err != nil {
		panic(err)
	}
	fmt.Println(h.SrcPort(), "->", h.DstPort(), h.Flags(), "seq", h.Seq(), "header", h.DataOffset(), "bytes")
	fmt.Println("mss", opts.MSS, "wscale", opts.WindowScale, "checksum ok:", h.ChecksumValid(src, dst))
	// Output:
	// 40000 -> 80 SYN seq 1000 header 28 bytes
	// mss 1460 wscale 7 checksum ok: true
}

// Sequence numbers wrap around; compare them with the methods, never with <.
func ExampleSeq() {
	a := tcp.Seq(0xfffffff0)
	b := a.Add(0x20) // wraps past zero
	fmt.Println(b, a.LessThan(b), b.Sub(a), tcp.Seq(5).InWindow(a, 0x20))
	// Output: 16 true 32 true
}

func ExampleFlags_String() {
	fmt.Println(tcp.FlagSYN|tcp.FlagACK, tcp.FlagFIN|tcp.FlagACK, tcp.FlagRST)
	// Output: SYN|ACK FIN|ACK RST
}

// The ECN field is the low two bits of the IPv4 TOS byte (RFC 3168
// section 5); a segment's HeaderFields.ECN holds it.
func ExampleECNCodepoint_String() {
	for _, tos := range []uint8{0x00, 0x22, 0x01, 0x23} {
		fmt.Printf("TOS %#02x: %v\n", tos, tcp.ECNCodepoint(tos&0x3))
	}
	// Output:
	// TOS 0x00: Not-ECT
	// TOS 0x22: ECT(0)
	// TOS 0x01: ECT(1)
	// TOS 0x23: CE
}

// The reset a stack sends for a segment to a port nobody listens on.
func ExampleRSTForUnexpected() {
	syn := tcp.Segment{HeaderFields: tcp.HeaderFields{SrcPort: 40000, DstPort: 81, Seq: 1000, Flags: tcp.FlagSYN}}
	rst, ok := tcp.RSTForUnexpected(&syn)
	fmt.Println(ok, rst.Flags, "seq", rst.Seq, "ack", rst.Ack, "ports", rst.SrcPort, rst.DstPort)
	// Output: true RST|ACK seq 0 ack 1001 ports 81 40000
}

func ExampleISNGenerator() {
	g := tcp.NewISNGeneratorWithKey([32]byte{42}) // NewISNGenerator in real use
	id := tcp.FourTuple{LocalAddr: [4]byte{198, 18, 0, 1}, RemoteAddr: [4]byte{198, 18, 0, 2}, LocalPort: 80, RemotePort: 40000}
	t0 := time.Unix(0, 0)
	first := g.ISN(id, t0)
	later := g.ISN(id, t0.Add(time.Millisecond))
	fmt.Println("advances by", later.Sub(first), "in 1ms") // one tick per 4 microseconds
	// Output: advances by 250 in 1ms
}

// wire connects two Conns directly: each segment one sends is handed to the
// other at once (a real stack puts IPv4 and a link in between). It prints
// every segment the way a textbook ladder does.
type wire struct {
	name string
	peer **tcp.Conn
	now  *time.Time
	q    *[]func()
}

func (w wire) SendSegment(id tcp.FourTuple, f tcp.HeaderFields, p tcp.Payload) {
	line := fmt.Sprintf("%s --> %-8v seq=%d ack=%d len=%d", w.name, f.Flags, f.Seq, f.Ack, p.Len())
	seg := tcp.Segment{HeaderFields: f, Payload: p.AppendTo(nil)} // copy: p aliases the send ring
	*w.q = append(*w.q, func() {
		fmt.Println(line)
		(*w.peer).HandleSegment(seg, *w.now)
	})
}

type states struct{ name string }

func (s states) StateChanged(id tcp.FourTuple, from, to tcp.State, cause tcp.Event) {
	fmt.Printf("    %s: %v -> %v (%v)\n", s.name, from, to, cause)
}
func (states) SegmentSent(tcp.FourTuple, *tcp.HeaderFields, int, bool) {}
func (states) SegmentReceived(tcp.FourTuple, *tcp.Segment)             {}

// Two Conns back to back: the three-way handshake, one exchange of data and
// the close of RFC 9293 Figure 12, driven by hand with a virtual clock.
func ExampleConn() {
	now := time.Unix(0, 0)
	var queue []func()
	var client, server *tcp.Conn
	cfg := tcp.DefaultConfig()
	cfg.DelayedAck = 0 // acknowledge at once, to keep the ladder short
	idC := tcp.FourTuple{LocalAddr: [4]byte{198, 18, 0, 1}, RemoteAddr: [4]byte{198, 18, 0, 2}, LocalPort: 40000, RemotePort: 80}
	idS := tcp.FourTuple{LocalAddr: idC.RemoteAddr, RemoteAddr: idC.LocalAddr, LocalPort: 80, RemotePort: 40000}
	client = tcp.NewConn(cfg, idC, 100, wire{"A", &server, &now, &queue})
	server = tcp.NewConn(cfg, idS, 300, wire{"B", &client, &now, &queue})
	client.SetObserver(states{"A"})
	server.SetObserver(states{"B"})
	run := func() {
		for len(queue) > 0 {
			next := queue[0]
			queue = queue[1:]
			next()
		}
	}

	server.Listen()
	client.Connect(now)
	run()
	client.Write([]byte("hello"), now)
	run()
	buf := make([]byte, 16)
	n, _ := server.Read(buf, now)
	fmt.Printf("B reads %q\n", buf[:n])
	client.Close(now)
	run()
	server.Close(now)
	run()
	d, _ := client.Deadline()
	fmt.Println("A leaves TIME-WAIT after", d.Sub(now))
	// Output:
	//     B: CLOSED -> LISTEN (passive OPEN)
	//     A: CLOSED -> SYN-SENT (active OPEN)
	// A --> SYN      seq=100 ack=0 len=0
	//     B: LISTEN -> SYN-RECEIVED (rcv SYN)
	// B --> SYN|ACK  seq=300 ack=101 len=0
	//     A: SYN-SENT -> ESTABLISHED (rcv SYN,ACK)
	// A --> ACK      seq=101 ack=301 len=0
	//     B: SYN-RECEIVED -> ESTABLISHED (rcv ACK of SYN)
	// A --> PSH|ACK  seq=101 ack=301 len=5
	// B --> ACK      seq=301 ack=106 len=0
	// B reads "hello"
	//     A: ESTABLISHED -> FIN-WAIT-1 (CLOSE)
	// A --> FIN|ACK  seq=106 ack=301 len=0
	//     B: ESTABLISHED -> CLOSE-WAIT (rcv FIN)
	// B --> ACK      seq=301 ack=107 len=0
	//     A: FIN-WAIT-1 -> FIN-WAIT-2 (rcv ACK of FIN)
	//     B: CLOSE-WAIT -> LAST-ACK (CLOSE)
	// B --> FIN|ACK  seq=301 ack=107 len=0
	//     A: FIN-WAIT-2 -> TIME-WAIT (rcv FIN)
	// A --> ACK      seq=107 ack=302 len=0
	//     B: LAST-ACK -> CLOSED (rcv ACK of FIN)
	// A leaves TIME-WAIT after 1m0s
}
