package trace_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/ipv4"
	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
	"github.com/tundra-net/tundra/trace"
)

var (
	clientAddr = netip.MustParseAddr("198.18.0.1")
	serverAddr = netip.MustParseAddr("198.18.0.2")
)

// dropFirstData drops the first TCP packet with a payload written through
// it, so that a test sees a retransmission.
type dropFirstData struct {
	link.Endpoint
	dropped bool
}

func (d *dropFirstData) WritePackets(pkts []link.Packet) (int, error) {
	if !d.dropped {
		for i := range pkts {
			ip, err := ipv4.ParseHeader(pkts[i].Data)
			if err != nil || ip.Protocol() != ipv4.ProtocolTCP {
				continue
			}
			if h, err := tcp.ParseHeader(ip.Payload()); err == nil && len(h.Payload()) > 0 {
				d.dropped = true
				n, err := d.Endpoint.WritePackets(append(pkts[:i:i], pkts[i+1:]...))
				return n + 1, err
			}
		}
	}
	return d.Endpoint.WritePackets(pkts)
}

// net is two stacks in Manual mode over a pipe on a virtual clock, the
// client's traced.
type net struct {
	t                  *testing.T
	clk                *clock.Virtual
	tracer             *trace.Tracer
	client, server     *stack.Stack
	toClient, toServer *pipe.Endpoint
	batch              []link.Packet
}

func newNet(t *testing.T, dropOne bool) *net {
	n := &net{t: t, clk: clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	n.tracer = trace.New(n.clk)
	n.toClient, n.toServer = pipe.New(pipe.Options{})
	var clientLink link.Endpoint = n.toClient
	if dropOne {
		clientLink = &dropFirstData{Endpoint: n.toClient}
	}
	var err error
	n.client, err = stack.New(n.tracer.Endpoint(clientLink), stack.Options{Addresses: []netip.Addr{clientAddr},
		Clock: n.clk, Manual: true, Observer: n.tracer})
	if err != nil {
		t.Fatal(err)
	}
	n.server, err = stack.New(n.toServer, stack.Options{Addresses: []netip.Addr{serverAddr}, Clock: n.clk, Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.client.Close(); n.server.Close() })
	n.batch = make([]link.Packet, 16)
	return n
}

// settle delivers packets until none are left, then runs timers due in
// the next d.
func (n *net) settle(d time.Duration) {
	end := n.clk.Now().Add(d)
	for {
		moved := false
		for _, hop := range []struct {
			ep *pipe.Endpoint
			st *stack.Stack
		}{{n.toServer, n.server}, {n.toClient, n.client}} {
			for i := range n.batch {
				n.batch[i].Data = make([]byte, 0, 1500)
			}
			if k, _ := hop.ep.PollPackets(n.batch); k > 0 {
				hop.st.DeliverPackets(n.batch[:k])
				moved = true
			}
		}
		if moved {
			continue
		}
		next, ok := n.clk.NextDeadline()
		if !ok || next.After(end) {
			n.clk.AdvanceTo(end)
			return
		}
		n.clk.AdvanceTo(next)
	}
}

// exchange runs a whole HTTP-like exchange: connect, request, response,
// close from both sides, TIME-WAIT on the client.
func (n *net) exchange() {
	t := n.t
	l, err := n.server.ListenTCP(netip.AddrPortFrom(serverAddr, 80), 4)
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.client.StartDialTCP(40000, netip.AddrPortFrom(serverAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	n.settle(time.Millisecond)
	s := l.TryAcceptTCP()
	if s == nil {
		t.Fatal("no connection to accept")
	}
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	n.settle(2 * time.Second) // long enough for a retransmission timeout
	buf := make([]byte, 100)
	if !s.ReadReady() {
		t.Fatal("the request did not arrive")
	}
	s.Read(buf)
	s.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	n.settle(time.Second)
	for c.ReadReady() {
		if k, _ := c.Read(buf); k == 0 {
			break
		}
	}
	c.Close()
	n.settle(100 * time.Millisecond)
	s.Close()
	n.settle(100 * time.Millisecond)
	n.tracer.Flush()
}

func TestLadder(t *testing.T) {
	n := newNet(t, false)
	var out bytes.Buffer
	ladder := trace.NewLadder(&out, "client", "server")
	n.tracer.Subscribe(trace.LadderKinds, ladder.Handle)
	n.exchange()
	ladder.Flush()
	got := out.String()
	want := []string{
		"-- connection 198.18.0.1:40000 (client) <-> 198.18.0.2:80 (server)",
		"client -> server SYN         seq=0 win=",
		"client: CLOSED -> SYN-SENT; server: LISTEN -> SYN-RECEIVED (inferred)",
		"server -> client SYN+ACK     seq=0 ack=1 win=",
		"client: SYN-SENT -> ESTABLISHED",
		"client -> server ACK         seq=1 ack=1",
		"server: SYN-RECEIVED -> ESTABLISHED (inferred)",
		`client -> server PSH+ACK     seq=1 ack=1 len=27 "GET / HTTP/1.1"`,
		`server -> client PSH+ACK     seq=1 ack=28 len=38 "HTTP/1.1 200 OK"`,
		"client -> server FIN+ACK     seq=28 ack=39",
		"client: ESTABLISHED -> FIN-WAIT-1; server: ESTABLISHED -> CLOSE-WAIT (inferred)",
		"client: FIN-WAIT-1 -> FIN-WAIT-2",
		"server -> client FIN+ACK     seq=39 ack=29",
		"client: FIN-WAIT-2 -> TIME-WAIT",
		"server: LAST-ACK -> CLOSED (inferred)",
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("ladder lacks %q", w)
		}
	}
	// Each segment is one line, in order.
	last := -1
	for _, w := range want {
		if i := strings.Index(got, w); i >= 0 {
			if i < last {
				t.Errorf("%q is out of order", w)
			}
			last = i
		}
	}
	if t.Failed() {
		t.Logf("ladder:\n%s", got)
	}
}

func TestRetransmissionAndKinds(t *testing.T) {
	n := newNet(t, true)
	var retrans, states, all []string
	n.tracer.Subscribe(trace.Retransmission, func(e *trace.Event) { retrans = append(retrans, e.String()) })
	n.tracer.Subscribe(trace.StateChange, func(e *trace.Event) {
		if e.Kind != trace.StateChange {
			t.Errorf("a StateChange subscriber got %v", e.Kind)
		}
		states = append(states, e.From.String()+">"+e.To.String())
	})
	cancel := n.tracer.Subscribe(trace.All, func(e *trace.Event) { all = append(all, e.String()) })
	var ladder bytes.Buffer
	l := trace.NewLadder(&ladder, "client", "server")
	n.tracer.Subscribe(trace.LadderKinds, l.Handle)
	n.exchange()
	cancel()
	l.Flush()
	if len(retrans) != 1 || !strings.Contains(retrans[0], "retransmission") || !strings.Contains(retrans[0], `"GET / HTTP/1.1"`) {
		t.Errorf("retransmissions: %q", retrans)
	}
	if !strings.Contains(ladder.String(), `len=27 "GET / HTTP/1.1" (retransmission)`) {
		t.Errorf("the ladder does not show the retransmission:\n%s", ladder.String())
	}
	wantStates := "CLOSED>SYN-SENT SYN-SENT>ESTABLISHED ESTABLISHED>FIN-WAIT-1 FIN-WAIT-1>FIN-WAIT-2 FIN-WAIT-2>TIME-WAIT"
	if got := strings.Join(states, " "); got != wantStates {
		t.Errorf("states %s, want %s", got, wantStates)
	}
	n2 := len(all)
	n.settle(time.Second)
	if len(all) != n2 {
		t.Errorf("a cancelled subscription still gets events")
	}
	n.tracer.UnsubscribeAll()
	before := len(states)
	n.client.Close() // aborts the connection in TIME-WAIT
	if len(states) != before {
		t.Errorf("UnsubscribeAll left a subscription")
	}
}

func TestJSONLines(t *testing.T) {
	n := newNet(t, false)
	var out bytes.Buffer
	n.tracer.Subscribe(trace.All, trace.JSONLines(&out))
	n.exchange()
	kinds := map[string]int{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s: %v", sc.Text(), err)
		}
		kinds[m["kind"].(string)]++
		if m["kind"] == "segment-out" && m["summary"] == "GET / HTTP/1.1" && m["seq"] != 1.0 {
			t.Errorf("request at relative seq %v, want 1", m["seq"])
		}
	}
	if kinds["segment-in"] < 3 || kinds["segment-out"] < 4 || kinds["state"] != 5 {
		t.Errorf("event counts %v", kinds)
	}
}

func TestSampleCongestion(t *testing.T) {
	tr := trace.New(clock.NewVirtual(time.Unix(0, 0)))
	var got []int
	tr.Subscribe(trace.Congestion, func(e *trace.Event) { got = append(got, e.CongestionWindow) })
	id := tcp.FourTuple{LocalPort: 1, RemotePort: 2}
	for _, cwnd := range []int{14600, 14600, 16060, 16060, 8030} {
		tr.SampleCongestion(id, tcp.Stats{CongestionWindow: cwnd, SlowStartThresh: 1 << 30})
	}
	if want := []int{14600, 16060, 8030}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("samples %v, want %v", got, want)
	}
}

// recorder counts observer calls, for the fan-out test.
type recorder struct{ states, sent, received int }

func (r *recorder) StateChanged(tcp.FourTuple, tcp.State, tcp.State, tcp.Event) { r.states++ }
func (r *recorder) SegmentSent(tcp.FourTuple, *tcp.HeaderFields, int, bool)     { r.sent++ }
func (r *recorder) SegmentReceived(tcp.FourTuple, *tcp.Segment)                 { r.received++ }

func TestFanout(t *testing.T) {
	var a, b recorder
	f := trace.Fanout{&a, nil, &b}
	f.StateChanged(tcp.FourTuple{}, tcp.Closed, tcp.SynSent, tcp.EventActiveOpen)
	f.SegmentSent(tcp.FourTuple{}, &tcp.HeaderFields{}, 0, false)
	f.SegmentReceived(tcp.FourTuple{}, &tcp.Segment{})
	for _, r := range []recorder{a, b} {
		if r != (recorder{1, 1, 1}) {
			t.Errorf("fan-out delivered %+v", r)
		}
	}
}

func TestNobodyListeningCostsNothing(t *testing.T) {
	tr := trace.New(nil)
	id := tcp.FourTuple{LocalPort: 1, RemotePort: 2}
	f := tcp.HeaderFields{Flags: tcp.FlagACK | tcp.FlagPSH, Seq: 100, Ack: 200}
	seg := tcp.Segment{HeaderFields: f, Payload: []byte("GET / HTTP/1.1\r\n")}
	allocs := testing.AllocsPerRun(100, func() {
		tr.SegmentSent(id, &f, 10, false)
		tr.SegmentReceived(id, &seg)
		tr.StateChanged(id, tcp.Established, tcp.CloseWait, tcp.EventRecvFIN)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per call with no subscriber", allocs)
	}
}

func TestSummarize(t *testing.T) {
	for in, want := range map[string]string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n":        "GET / HTTP/1.1",
		"POST /echo HTTP/1.0\r\n":                  "POST /echo HTTP/1.0",
		"HTTP/1.1 404 Not Found\r\n":               "HTTP/1.1 404 Not Found",
		"get / HTTP/1.1\r\n":                       "",
		"hello, world\n":                           "",
		"GET / HTTP/1.1":                           "", // no line end yet
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03": "TLS ClientHello",
		"\x17\x03\x03\x00\x20rest":                 "TLS application data",
		"\x15\x03\x03\x00\x02\x01\x00":             "TLS alert",
		"":                                         "",
		"\x16\x03\x09\x00\x10\x01":                 "",
		"GET /\x00 HTTP/1.1\r\n":                   "",
		strings.Repeat("A", 300) + " HTTP/1.1\r\n": "",
	} {
		if got := trace.Summarize([]byte(in)); got != want {
			t.Errorf("Summarize(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkObserverNoSubscriber(b *testing.B) {
	tr := trace.New(nil)
	id := tcp.FourTuple{LocalPort: 1, RemotePort: 2}
	f := tcp.HeaderFields{Flags: tcp.FlagACK, Seq: 100, Ack: 200}
	for b.Loop() {
		tr.SegmentSent(id, &f, 1460, false)
	}
}

func BenchmarkObserverLadder(b *testing.B) {
	tr := trace.New(nil)
	var out bytes.Buffer
	l := trace.NewLadder(&out, "a", "b")
	tr.Subscribe(trace.LadderKinds, l.Handle)
	id := tcp.FourTuple{LocalPort: 1, RemotePort: 2}
	f := tcp.HeaderFields{Flags: tcp.FlagACK, Seq: 100, Ack: 200}
	for b.Loop() {
		tr.SegmentSent(id, &f, 1460, false)
		if out.Len() > 1<<20 {
			out.Reset()
		}
	}
}

// closing feeds a Ladder the end of a connection, segment by segment, with
// sequence numbers already relative (ISNs 0).
func closing(t *testing.T, segs []struct {
	out        bool
	flags      tcp.Flags
	seq, ack   tcp.Seq
	from, to   tcp.State
	stateCause tcp.Event
}) string {
	t.Helper()
	tr := trace.New(nil)
	var out bytes.Buffer
	l := trace.NewLadder(&out, "us", "peer")
	tr.Subscribe(trace.LadderKinds, l.Handle)
	id := tcp.FourTuple{LocalPort: 80, RemotePort: 5555}
	// An established connection: the peer opened.
	tr.SegmentReceived(id, &tcp.Segment{HeaderFields: tcp.HeaderFields{Flags: tcp.FlagSYN}})
	tr.SegmentSent(id, &tcp.HeaderFields{Flags: tcp.FlagSYN | tcp.FlagACK, Ack: 1}, 0, false)
	tr.SegmentReceived(id, &tcp.Segment{HeaderFields: tcp.HeaderFields{Flags: tcp.FlagACK, Seq: 1, Ack: 1}})
	for _, s := range segs {
		f := tcp.HeaderFields{Flags: s.flags, Seq: s.seq, Ack: s.ack}
		if s.out {
			if s.stateCause != 0 {
				tr.StateChanged(id, s.from, s.to, s.stateCause)
			}
			tr.SegmentSent(id, &f, 0, false)
		} else {
			tr.SegmentReceived(id, &tcp.Segment{HeaderFields: f})
			if s.stateCause != 0 {
				tr.StateChanged(id, s.from, s.to, s.stateCause)
			}
		}
	}
	l.Flush()
	return out.String()
}

func TestLadderInfersCrossingFINs(t *testing.T) {
	// RFC 9293 Figure 13: both sides close at once; the peer's FIN does
	// not acknowledge ours, so it was sent from ESTABLISHED.
	got := closing(t, []struct {
		out        bool
		flags      tcp.Flags
		seq, ack   tcp.Seq
		from, to   tcp.State
		stateCause tcp.Event
	}{
		{true, tcp.FlagFIN | tcp.FlagACK, 1, 1, tcp.Established, tcp.FinWait1, tcp.EventClose},
		{false, tcp.FlagFIN | tcp.FlagACK, 1, 1, tcp.FinWait1, tcp.Closing, tcp.EventRecvFIN},
		{true, tcp.FlagACK, 2, 2, 0, 0, 0},
		{false, tcp.FlagACK, 2, 2, tcp.Closing, tcp.TimeWait, tcp.EventRecvACKOfFIN},
	})
	for _, want := range []string{
		"peer -> us   FIN+ACK     seq=1 ack=1 win=0                        peer: ESTABLISHED -> FIN-WAIT-1 (inferred: the two FINs crossed); us: FIN-WAIT-1 -> CLOSING",
		"us   -> peer ACK         seq=2 ack=2 win=0                        peer: FIN-WAIT-1 -> CLOSING -> TIME-WAIT (inferred)",
		"us: CLOSING -> TIME-WAIT",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ladder lacks %q:\n%s", want, got)
		}
	}
}

func TestLadderInfersFINThatAcksFIN(t *testing.T) {
	// The peer closes first; our FIN acknowledges its FIN: FIN-WAIT-1
	// goes straight to TIME-WAIT (the FIN,ACK-of-FIN arrow of Figure 5)
	// if it had not seen our ACK first; here our ACK and FIN are one
	// segment.
	got := closing(t, []struct {
		out        bool
		flags      tcp.Flags
		seq, ack   tcp.Seq
		from, to   tcp.State
		stateCause tcp.Event
	}{
		{false, tcp.FlagFIN | tcp.FlagACK, 1, 1, tcp.Established, tcp.CloseWait, tcp.EventRecvFIN},
		{true, tcp.FlagFIN | tcp.FlagACK, 1, 2, tcp.CloseWait, tcp.LastAck, tcp.EventClose},
		{false, tcp.FlagACK, 2, 2, tcp.LastAck, tcp.Closed, tcp.EventRecvACKOfFIN},
	})
	for _, want := range []string{
		"peer: ESTABLISHED -> FIN-WAIT-1 (inferred); us: ESTABLISHED -> CLOSE-WAIT",
		"us: CLOSE-WAIT -> LAST-ACK; peer: FIN-WAIT-1 -> TIME-WAIT (inferred)",
		"us: LAST-ACK -> CLOSED",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ladder lacks %q:\n%s", want, got)
		}
	}
}

func TestSampleStack(t *testing.T) {
	n := newNet(t, false)
	var samples []trace.Event
	n.tracer.Subscribe(trace.Congestion, func(e *trace.Event) { samples = append(samples, *e) })
	l, err := n.server.ListenTCP(netip.AddrPortFrom(serverAddr, 80), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := n.client.StartDialTCP(0, netip.AddrPortFrom(serverAddr, 80)); err != nil {
		t.Fatal(err)
	}
	n.tracer.SampleStack(n.client)
	n.settle(time.Millisecond)
	n.tracer.SampleStack(n.client)
	n.tracer.SampleStack(n.client) // unchanged: no event
	if len(samples) != 2 {
		t.Fatalf("%d samples, want 2 (before and after the handshake): %v", len(samples), samples)
	}
	// The handshake's RTT sample (zero on this delay-free pipe) brings the
	// RTO down from the initial 1 s to its floor.
	if samples[1].RTO >= samples[0].RTO || samples[1].CongestionWindow < samples[0].CongestionWindow {
		t.Errorf("after the handshake: %v", samples[1].String())
	}
}
