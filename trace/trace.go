// Package trace lets a program watch TCP at work: every segment a
// connection sends and receives, every state change, every retransmission
// and the congestion window as it grows and shrinks.
//
// A Tracer implements tcp.Observer, so it plugs into stack.Options.Observer
// (or tcp.Conn.SetObserver). Programs Subscribe to the kinds of Event they
// want; the Tracer turns the observer's calls into Events (copied, with
// sequence numbers made relative to each side's initial sequence number, as
// textbooks draw them) and hands them to the subscribers in order. Two
// subscribers ship with the package: a Ladder, which prints the exchange the
// way a textbook draws it (the `tundra demo` output), and JSONLines, which
// writes one JSON object per event for other tools. When nobody subscribes,
// each observer call costs one atomic load.
//
// Two things an observer cannot see on its own are added from outside:
// the first line of HTTP in data the stack sends (wrap the link with
// Tracer.Endpoint, which reads it off the outgoing packets), and the
// congestion window, which a connection only reports through its Stats
// (call Tracer.SampleCongestion or SampleStack after the stack has done
// some work; the simulator does so after every packet). Reading Stats from
// inside the observer callbacks is not allowed: the connection is busy
// calling them.
package trace

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tundra-net/tundra/clock"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tcp"
)

// Kind says what an Event reports. Kinds are bits, so that a subscription
// can ask for several at once.
type Kind uint8

// The kinds of Event.
const (
	// SegmentIn: a segment the connection received (before processing).
	SegmentIn Kind = 1 << iota
	// SegmentOut: a segment the connection sent, first transmissions and
	// retransmissions alike.
	SegmentOut
	// StateChange: the connection moved from one RFC 9293 state to another.
	StateChange
	// Retransmission: a sent segment carrying sequence space sent before.
	// It is delivered as a SegmentOut event with Retransmission set; a
	// subscriber that asks only for Retransmission gets only those.
	Retransmission
	// Congestion: the congestion window, slow-start threshold or RTT
	// estimate changed since the last sample (see SampleCongestion).
	Congestion

	// All is every kind.
	All = SegmentIn | SegmentOut | StateChange | Retransmission | Congestion
)

var kindNames = []struct {
	k    Kind
	name string
}{
	{SegmentIn, "segment-in"}, {SegmentOut, "segment-out"}, {StateChange, "state"},
	{Retransmission, "retransmission"}, {Congestion, "congestion"},
}

// String names the kind ("segment-in", "state", ...); a set of kinds is
// joined with "|".
func (k Kind) String() string {
	var parts []string
	for _, kn := range kindNames {
		if k&kn.k != 0 {
			parts = append(parts, kn.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Event is one thing a connection did. Which fields are set depends on
// Kind; the others are zero.
type Event struct {
	Kind Kind
	Time time.Time
	Conn tcp.FourTuple // from the observed connection's point of view

	// SegmentIn and SegmentOut.
	Fields         tcp.HeaderFields // as on the wire, options included
	PayloadLen     int
	Retransmission bool
	// RelSeq and RelAck are Seq and Ack relative to the initial sequence
	// number of the side that numbered them (0 for a SYN, 1 for the first
	// data byte), once that side's SYN has been seen; otherwise the raw
	// values.
	RelSeq, RelAck uint32
	// RelOptions are the segment's options with every number made
	// relative the same way: SACK blocks (RFC 2018) like the
	// acknowledgment number, and the timestamps (RFC 7323 section 3) to
	// the first TSval each side sent. Connections start their sequence
	// numbers and TSval at random offsets, which would otherwise make
	// traces differ from run to run.
	RelOptions tcp.Options
	// Summary is the first line of the payload when it looks like HTTP
	// ("GET / HTTP/1.1", "HTTP/1.1 200 OK"), else "". For sent segments
	// it is only known when the link is wrapped with Tracer.Endpoint.
	Summary string

	// StateChange.
	From, To tcp.State
	Cause    tcp.Event

	// Congestion: a sample of the connection's Stats.
	CongestionWindow, SlowStartThresh int
	SRTT, RTO                         time.Duration
	BytesInFlight                     int
}

// Local returns the observed connection's own address and port.
func (e *Event) Local() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(e.Conn.LocalAddr), e.Conn.LocalPort)
}

// Remote returns the peer's address and port.
func (e *Event) Remote() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(e.Conn.RemoteAddr), e.Conn.RemotePort)
}

// String prints the event on one line, for logs and tests.
func (e *Event) String() string {
	switch e.Kind {
	case SegmentIn, SegmentOut:
		dir := "<-"
		if e.Kind == SegmentOut {
			dir = "->"
		}
		s := fmt.Sprintf("%v %s %v %s seq=%d", e.Local(), dir, e.Remote(), FlagsString(e.Fields.Flags), e.RelSeq)
		if e.Fields.Flags&tcp.FlagACK != 0 {
			s += fmt.Sprintf(" ack=%d", e.RelAck)
		}
		s += fmt.Sprintf(" len=%d", e.PayloadLen)
		if e.Retransmission {
			s += " retransmission"
		}
		if e.Summary != "" {
			s += fmt.Sprintf(" %q", e.Summary)
		}
		return s
	case StateChange:
		return fmt.Sprintf("%v %v -> %v (%v)", e.Local(), e.From, e.To, e.Cause)
	case Congestion:
		return fmt.Sprintf("%v cwnd=%d ssthresh=%d srtt=%v rto=%v inflight=%d", e.Local(),
			e.CongestionWindow, e.SlowStartThresh, e.SRTT, e.RTO, e.BytesInFlight)
	}
	return e.Kind.String()
}

// FlagsString prints control bits the way textbooks label segments:
// "SYN", "SYN+ACK", "FIN+ACK", "PSH+ACK", "RST".
func FlagsString(f tcp.Flags) string {
	return strings.ReplaceAll(f.String(), "|", "+")
}

// subscription is one Subscribe call.
type subscription struct {
	id    uint64
	kinds Kind
	f     func(*Event)
}

// connTrace is what the Tracer remembers about one connection: the two
// initial sequence numbers and first timestamps, for relative numbering.
type connTrace struct {
	iss, irs            tcp.Seq
	hasISS, hasIRS      bool
	ourTS, peerTS       uint32 // first TSval each side sent
	hasOurTS, hasPeerTS bool
}

// relativeOptions sets e.RelOptions from o; sent says whether we sent
// the segment.
func (c *connTrace) relativeOptions(e *Event, o *tcp.Options, sent bool) {
	e.RelOptions = *o
	r := &e.RelOptions
	// SACK blocks name the receiver's view of the other side's sequence
	// space, as the acknowledgment number does.
	ackBase, ackOK := c.iss, c.hasISS
	if sent {
		ackBase, ackOK = c.irs, c.hasIRS
	}
	if ackOK {
		for i := range r.SACKBlocks[:min(r.SACKBlockCount, len(r.SACKBlocks))] {
			r.SACKBlocks[i].Left = tcp.Seq(r.SACKBlocks[i].Left.Sub(ackBase))
			r.SACKBlocks[i].Right = tcp.Seq(r.SACKBlocks[i].Right.Sub(ackBase))
		}
	}
	if !o.HasTimestamps {
		return
	}
	if sent && !c.hasOurTS {
		c.ourTS, c.hasOurTS = o.TSVal, true
	}
	if !sent && !c.hasPeerTS {
		c.peerTS, c.hasPeerTS = o.TSVal, true
	}
	valBase, ecrBase, ecrOK := c.peerTS, c.ourTS, c.hasOurTS
	if sent {
		valBase, ecrBase, ecrOK = c.ourTS, c.peerTS, c.hasPeerTS
	}
	r.TSVal = o.TSVal - valBase
	if ecrOK && o.TSEcr != 0 {
		r.TSEcr = o.TSEcr - ecrBase
	}
}

// Tracer turns tcp.Observer calls into Events for its subscribers. It is
// safe for concurrent use; subscribers are called one at a time, in the
// order events happened, with the Tracer's lock held, so they must not
// call back into the Tracer.
type Tracer struct {
	clock clock.Clock
	kinds atomic.Uint32 // union of subscribed kinds; 0 means nobody listens

	mu      sync.Mutex
	subs    []subscription
	nextID  uint64
	conns   map[tcp.FourTuple]*connTrace
	samples map[tcp.FourTuple]Event // last Congestion event per connection
	// pending is a sent segment with payload held back until the wrapped
	// link shows its bytes (see Endpoint); it goes out with the next event
	// at the latest.
	pending    Event
	hasPending bool
	tapped     bool
}

var _ tcp.Observer = (*Tracer)(nil)

// New returns a Tracer that stamps events with clk's time (clock.Real if
// nil).
func New(clk clock.Clock) *Tracer {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Tracer{clock: clk, conns: make(map[tcp.FourTuple]*connTrace), samples: make(map[tcp.FourTuple]Event)}
}

// Subscribe calls f for every event of the given kinds until the returned
// cancel function is called. The Event is valid only during the call.
func (t *Tracer) Subscribe(kinds Kind, f func(*Event)) (cancel func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextID++
	id := t.nextID
	t.subs = append(t.subs, subscription{id: id, kinds: kinds, f: f})
	t.updateKindsLocked()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		for i, s := range t.subs {
			if s.id == id {
				t.subs = append(t.subs[:i:i], t.subs[i+1:]...)
				break
			}
		}
		t.updateKindsLocked()
	}
}

// UnsubscribeAll ends every subscription, as if each cancel function had
// been called: for a program that is about to tear its stacks down and
// does not want to hear the aborts.
func (t *Tracer) UnsubscribeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.subs = nil
	t.hasPending = false
	t.updateKindsLocked()
}

func (t *Tracer) updateKindsLocked() {
	var k Kind
	for _, s := range t.subs {
		k |= s.kinds
	}
	if k&Retransmission != 0 {
		k |= SegmentOut // retransmissions are found among sent segments
	}
	t.kinds.Store(uint32(k))
}

// wants reports whether anyone subscribed to any of kinds: the cheap test
// every observer call starts with.
func (t *Tracer) wants(kinds Kind) bool { return Kind(t.kinds.Load())&kinds != 0 }

// emitLocked hands e to every interested subscriber, after any held-back
// sent segment.
func (t *Tracer) emitLocked(e *Event) {
	if t.hasPending {
		t.hasPending = false
		p := t.pending
		t.deliverLocked(&p)
	}
	t.deliverLocked(e)
}

func (t *Tracer) deliverLocked(e *Event) {
	for _, s := range t.subs {
		k := s.kinds
		if k&e.Kind != 0 || (k&Retransmission != 0 && e.Kind == SegmentOut && e.Retransmission) {
			s.f(e)
		}
	}
}

// Flush delivers a sent segment still waiting for its payload summary.
// Call it before reading a subscriber's output.
func (t *Tracer) Flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hasPending {
		t.hasPending = false
		p := t.pending
		t.deliverLocked(&p)
	}
}

func (t *Tracer) connLocked(id tcp.FourTuple) *connTrace {
	c := t.conns[id]
	if c == nil {
		c = &connTrace{}
		t.conns[id] = c
	}
	return c
}

// StateChanged implements tcp.Observer.
func (t *Tracer) StateChanged(id tcp.FourTuple, from, to tcp.State, cause tcp.Event) {
	if !t.wants(StateChange | SegmentIn | SegmentOut) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if to == tcp.Closed {
		delete(t.conns, id)
		delete(t.samples, id)
	}
	if !t.wants(StateChange) {
		return
	}
	e := Event{Kind: StateChange, Time: t.clock.Now(), Conn: id, From: from, To: to, Cause: cause}
	t.emitLocked(&e)
}

// SegmentSent implements tcp.Observer.
func (t *Tracer) SegmentSent(id tcp.FourTuple, fields *tcp.HeaderFields, payloadLen int, retransmission bool) {
	if !t.wants(SegmentOut) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.connLocked(id)
	if fields.Flags&tcp.FlagSYN != 0 {
		c.iss, c.hasISS = fields.Seq, true
	}
	e := Event{Kind: SegmentOut, Time: t.clock.Now(), Conn: id, Fields: *fields,
		PayloadLen: payloadLen, Retransmission: retransmission}
	e.RelSeq, e.RelAck = c.relative(fields.Seq, fields.Ack, true)
	c.relativeOptions(&e, &fields.Options, true)
	if payloadLen > 0 && t.tapped {
		// Hold it until Endpoint sees the bytes, which it does before this
		// goroutine does anything else with the connection.
		if t.hasPending {
			p := t.pending
			t.deliverLocked(&p)
		}
		t.pending, t.hasPending = e, true
		return
	}
	t.emitLocked(&e)
}

// SegmentReceived implements tcp.Observer.
func (t *Tracer) SegmentReceived(id tcp.FourTuple, seg *tcp.Segment) {
	if !t.wants(SegmentIn) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.connLocked(id)
	if seg.Flags&tcp.FlagSYN != 0 {
		c.irs, c.hasIRS = seg.Seq, true
	}
	e := Event{Kind: SegmentIn, Time: t.clock.Now(), Conn: id, Fields: seg.HeaderFields,
		PayloadLen: len(seg.Payload), Summary: Summarize(seg.Payload)}
	e.RelSeq, e.RelAck = c.relative(seg.Seq, seg.Ack, false)
	c.relativeOptions(&e, &seg.Options, false)
	t.emitLocked(&e)
}

// relative makes seq and ack relative: for a segment we sent, seq counts
// from our ISS and ack from the peer's IRS; for a received one the other
// way round.
func (c *connTrace) relative(seq, ack tcp.Seq, sent bool) (uint32, uint32) {
	seqBase, seqOK, ackBase, ackOK := c.irs, c.hasIRS, c.iss, c.hasISS
	if sent {
		seqBase, seqOK, ackBase, ackOK = c.iss, c.hasISS, c.irs, c.hasIRS
	}
	rs, ra := uint32(seq), uint32(ack)
	if seqOK {
		rs = seq.Sub(seqBase)
	}
	if ackOK {
		ra = ack.Sub(ackBase)
	}
	return rs, ra
}

// SampleCongestion reports a connection's Stats (from stack.TCPConn.Stats
// or tcp.Conn.Stats): if the congestion window, slow-start threshold, RTT
// estimate or RTO differ from the last sample, subscribers to Congestion
// get an event. Call it from outside the observer callbacks, after the
// connection has handled something (the simulator does after every step).
func (t *Tracer) SampleCongestion(id tcp.FourTuple, st tcp.Stats) {
	if !t.wants(Congestion) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	last, seen := t.samples[id]
	if seen && last.CongestionWindow == st.CongestionWindow && last.SlowStartThresh == st.SlowStartThresh &&
		last.SRTT == st.SRTT && last.RTO == st.RTO {
		return
	}
	e := Event{Kind: Congestion, Time: t.clock.Now(), Conn: id, CongestionWindow: st.CongestionWindow,
		SlowStartThresh: st.SlowStartThresh, SRTT: st.SRTT, RTO: st.RTO, BytesInFlight: st.BytesInFlight}
	t.samples[id] = e
	t.emitLocked(&e)
}

// SampleStack samples every TCP connection of s (SampleCongestion for
// each). A program that wants Congestion events from a running stack calls
// it now and then, from its own goroutine: every few milliseconds, or
// after each read or write.
func (t *Tracer) SampleStack(s *stack.Stack) {
	if !t.wants(Congestion) {
		return
	}
	for _, c := range s.TCPConns() {
		t.SampleCongestion(c.ID(), c.Stats())
	}
}

// Summarize names what a segment's payload begins with: the first line of
// an HTTP request or response ("GET / HTTP/1.1", "HTTP/1.0 200 OK"), or
// the type of a TLS record ("TLS ClientHello", "TLS application data";
// RFC 8446 section 5.1), else "". It looks at no more than the first 200
// bytes.
func Summarize(payload []byte) string {
	if s := summarizeTLS(payload); s != "" {
		return s
	}
	if len(payload) > 200 {
		payload = payload[:200]
	}
	end := -1
	for i, b := range payload {
		if b == '\r' || b == '\n' {
			end = i
			break
		}
	}
	if end <= 0 {
		return ""
	}
	line := payload[:end]
	for _, b := range line {
		if b < 0x20 || b > 0x7e {
			return ""
		}
	}
	s := string(line)
	if strings.HasPrefix(s, "HTTP/1.") {
		return s
	}
	if !strings.HasSuffix(s, " HTTP/1.1") && !strings.HasSuffix(s, " HTTP/1.0") {
		return ""
	}
	// A request line: METHOD SP target SP version (RFC 9112 section 3).
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return ""
	}
	for _, r := range s[:sp] {
		if r < 'A' || r > 'Z' {
			return ""
		}
	}
	return s
}

// Fanout is a tcp.Observer that passes every call to each of its
// observers in turn, for when a stack should feed a Tracer and something
// else (a test recorder, a metrics exporter) at once. Nil entries are
// skipped.
type Fanout []tcp.Observer

var _ tcp.Observer = Fanout(nil)

// StateChanged implements tcp.Observer.
func (f Fanout) StateChanged(id tcp.FourTuple, from, to tcp.State, cause tcp.Event) {
	for _, o := range f {
		if o != nil {
			o.StateChanged(id, from, to, cause)
		}
	}
}

// SegmentSent implements tcp.Observer.
func (f Fanout) SegmentSent(id tcp.FourTuple, fields *tcp.HeaderFields, payloadLen int, retransmission bool) {
	for _, o := range f {
		if o != nil {
			o.SegmentSent(id, fields, payloadLen, retransmission)
		}
	}
}

// SegmentReceived implements tcp.Observer.
func (f Fanout) SegmentReceived(id tcp.FourTuple, seg *tcp.Segment) {
	for _, o := range f {
		if o != nil {
			o.SegmentReceived(id, seg)
		}
	}
}

// summarizeTLS recognises the header of a TLS record (RFC 8446 section
// 5.1: content type, legacy version 0x03 0x0N, length) and, for handshake
// records, the first message's type (section 4).
func summarizeTLS(p []byte) string {
	if len(p) < 5 || p[1] != 3 || p[2] > 4 {
		return ""
	}
	switch p[0] {
	case 20:
		return "TLS ChangeCipherSpec"
	case 21:
		return "TLS alert"
	case 23:
		return "TLS application data"
	case 22:
		if len(p) < 6 {
			return "TLS handshake"
		}
		switch p[5] {
		case 1:
			return "TLS ClientHello"
		case 2:
			return "TLS ServerHello"
		case 11:
			return "TLS Certificate"
		case 16:
			return "TLS ClientKeyExchange"
		}
		return "TLS handshake"
	}
	return ""
}
