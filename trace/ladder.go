package trace

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/tundra-net/tundra/tcp"
)

// Ladder prints TCP exchanges the way a textbook draws them: one line per
// segment, who sent it to whom, its flags, relative sequence and
// acknowledgment numbers, its length and (for HTTP) its first line, and
// beside it the state changes it caused on each side:
//
//	kernel -> tundra  SYN      seq=0                    tundra: LISTEN -> SYN-RECEIVED; kernel: CLOSED -> SYN-SENT (inferred)
//	tundra -> kernel  SYN+ACK  seq=0 ack=1              kernel: SYN-SENT -> ESTABLISHED (inferred)
//	kernel -> tundra  ACK      seq=1 ack=1              tundra: SYN-RECEIVED -> ESTABLISHED
//
// The observed side's states are the connection's own; the peer's are
// inferred from the segments (RFC 9293's state machine run on what the peer
// sent and, presumably, received) and labelled so. Subscribe its Handle
// method to a Tracer for SegmentIn, SegmentOut and StateChange events. Each
// connection gets a heading line when its first event arrives.
type Ladder struct {
	// Local and Peer name the two sides ("tundra", "kernel").
	Local, Peer string
	// Options, when true, adds each segment's TCP options ("<mss 1460,...>",
	// relative as Event.RelOptions).
	Options bool

	mu    sync.Mutex
	w     io.Writer
	conns map[tcp.FourTuple]*ladderConn
	// line is the segment line being built: state changes caused by the
	// segment it shows are added to it before it is printed.
	line     strings.Builder
	notes    []string
	lineConn tcp.FourTuple
	hasLine  bool
}

// ladderConn is one connection on the ladder: the notes waiting for a
// line, and the peer's inferred state.
type ladderConn struct {
	early   []pendingNote
	peer    peerModel
	started bool
}

// pendingNote is a state change waiting for the segment that shows it: a
// user call's change goes beside the segment the call sends (CLOSE beside
// the FIN, which may leave after queued data; OPEN beside the SYN; ABORT
// beside the RST); any other change beside the next segment.
type pendingNote struct {
	text string
	out  bool      // wait for a segment the observed side sends
	with tcp.Flags // ... carrying one of these flags (0: any)
}

// takeNotes moves the notes that segment e shows onto the line.
func (l *Ladder) takeNotes(c *ladderConn, e *Event) {
	kept := c.early[:0]
	for _, n := range c.early {
		if (n.out && e.Kind != SegmentOut) || (n.with != 0 && e.Fields.Flags&n.with == 0) {
			kept = append(kept, n)
			continue
		}
		l.notes = append(l.notes, n.text)
	}
	c.early = kept
}

// NewLadder returns a Ladder that writes to w, naming the observed side
// local and the other side peer.
func NewLadder(w io.Writer, local, peer string) *Ladder {
	return &Ladder{Local: local, Peer: peer, w: w, conns: make(map[tcp.FourTuple]*ladderConn)}
}

// Kinds are the event kinds Handle wants: subscribe with
// tracer.Subscribe(trace.LadderKinds, ladder.Handle).
const LadderKinds = SegmentIn | SegmentOut | StateChange

// Handle takes one event (a Tracer subscriber).
func (l *Ladder) Handle(e *Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conns[e.Conn]
	if c == nil {
		c = &ladderConn{}
		l.conns[e.Conn] = c
		l.flushLocked()
		fmt.Fprintf(l.w, "-- connection %v (%s) <-> %v (%s)\n", e.Local(), l.Local, e.Remote(), l.Peer)
	}
	switch e.Kind {
	case SegmentIn, SegmentOut:
		l.flushLocked()
		l.segmentLine(e)
		l.takeNotes(c, e)
		if note, why := c.peer.observe(e); note != "" {
			l.notes = append(l.notes, fmt.Sprintf("%s: %s (inferred%s)", l.Peer, note, why))
		}
		l.lineConn, l.hasLine = e.Conn, true
	case StateChange:
		if e.From == tcp.Closed && e.To == tcp.Listen && e.Cause == tcp.EventPassiveOpen && !l.hasLine {
			// A listener's child passes through LISTEN on its way to
			// SYN-RECEIVED; the listener itself was in LISTEN all along.
			return
		}
		note := fmt.Sprintf("%s: %v -> %v", l.Local, e.From, e.To)
		userCall := map[tcp.Event]tcp.Flags{tcp.EventActiveOpen: tcp.FlagSYN, tcp.EventSend: tcp.FlagSYN,
			tcp.EventClose: tcp.FlagFIN, tcp.EventAbort: tcp.FlagRST}
		with, isCall := userCall[e.Cause]
		switch {
		case isCall && e.To != tcp.Closed:
			// The segment the call sends comes later.
			c.early = append(c.early, pendingNote{text: note, out: true, with: with})
		case isCall, e.Cause == tcp.EventTimeWaitTimeout, e.Cause == tcp.EventFinWait2Timeout,
			e.Cause == tcp.EventRetransmitTimeout, e.Cause == tcp.EventKeepAliveTimeout:
			// A timer, or a call that ends the connection without a
			// segment of its own (or with a RST sent already): a line of
			// its own.
			l.flushLocked()
			fmt.Fprintf(l.w, "%-*s %s (%v)\n", l.segmentWidth(), "", note, e.Cause)
		case l.hasLine && l.lineConn == e.Conn:
			l.notes = append(l.notes, note)
		default:
			c.early = append(c.early, pendingNote{text: note})
		}
		if e.To == tcp.Closed && (e.Cause == tcp.EventTimeWaitTimeout || e.Cause == tcp.EventRetransmitTimeout ||
			e.Cause == tcp.EventKeepAliveTimeout || e.Cause == tcp.EventFinWait2Timeout) {
			delete(l.conns, e.Conn)
		}
	}
}

// Flush prints the line being built. Call it (after Tracer.Flush) before
// reading what the ladder wrote.
func (l *Ladder) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

// segmentWidth is the width of the segment part of a line, before the
// notes column.
func (l *Ladder) segmentWidth() int {
	return 2*max(len(l.Local), len(l.Peer)) + 4 + 1 + flagsWidth + 1 + 40
}

// flagsWidth fits "FIN+PSH+ACK".
const flagsWidth = 11

func (l *Ladder) segmentLine(e *Event) {
	from, to := l.Peer, l.Local
	if e.Kind == SegmentOut {
		from, to = l.Local, l.Peer
	}
	name := max(len(l.Local), len(l.Peer))
	fmt.Fprintf(&l.line, "%-*s -> %-*s %-*s ", name, from, name, to, flagsWidth, FlagsString(e.Fields.Flags))
	var seg strings.Builder
	fmt.Fprintf(&seg, "seq=%d", e.RelSeq)
	if e.Fields.Flags&tcp.FlagACK != 0 {
		fmt.Fprintf(&seg, " ack=%d", e.RelAck)
	}
	if e.PayloadLen > 0 {
		fmt.Fprintf(&seg, " len=%d", e.PayloadLen)
	}
	// The window on SYNs, and when it is zero (the receiver is full); a
	// RST's window means nothing.
	if e.Fields.Flags&tcp.FlagRST == 0 && (e.Fields.Flags&tcp.FlagSYN != 0 || e.Fields.Window == 0) {
		fmt.Fprintf(&seg, " win=%d", e.Fields.Window)
	}
	if e.Summary != "" {
		fmt.Fprintf(&seg, " %q", e.Summary)
	}
	if l.Options {
		if o := e.RelOptions.String(); o != "" {
			fmt.Fprintf(&seg, " <%s>", o)
		}
	}
	if e.Retransmission {
		seg.WriteString(" (retransmission)")
	}
	fmt.Fprintf(&l.line, "%-40s", seg.String())
}

func (l *Ladder) flushLocked() {
	if !l.hasLine {
		return
	}
	s := l.line.String()
	if len(l.notes) > 0 {
		s += " " + strings.Join(l.notes, "; ")
	}
	fmt.Fprintln(l.w, strings.TrimRight(s, " "))
	l.line.Reset()
	l.notes = l.notes[:0]
	l.hasLine = false
}

// peerModel infers the other side's RFC 9293 state from the segments it
// sends and receives: what the peer must have done, if it is a conforming
// TCP. A segment the observed side sends is taken to reach the peer at
// once, except where the peer's next segment shows it had not (two FINs
// that crossed, as in RFC 9293 Figure 13).
type peerModel struct {
	state   tcp.State
	started bool
	path    []tcp.State // states entered while handling one segment
	crossed bool        // this segment showed that the two FINs crossed
	// The peer's FIN: sent, and where its sequence space ends.
	finSent bool
	finEnd  tcp.Seq
	// The observed side's FIN: sent (ending at ourFinEnd), and whether the
	// peer has received it.
	ourFINSent, ourFINReceived bool
	ourFinEnd                  tcp.Seq
}

func (p *peerModel) move(to tcp.State) {
	if to != p.state {
		p.state = to
		p.path = append(p.path, to)
	}
}

// observe updates the model with a segment and returns "FROM -> TO" (or
// "FROM -> A -> TO") if the peer's state changed, and any remark on how
// that was inferred.
func (p *peerModel) observe(e *Event) (transition, remark string) {
	if !p.started {
		p.started = true
		p.state = tcp.Closed
		if e.Kind == SegmentOut {
			p.state = tcp.Listen // we opened: the peer must have been listening
		}
	}
	before := p.state
	p.path = p.path[:0]
	p.crossed = false
	f := e.Fields.Flags
	switch {
	case f&tcp.FlagRST != 0:
		p.move(tcp.Closed)
	case e.Kind == SegmentIn:
		p.sent(e)
	default:
		if p.ourFINSent && !p.ourFINReceived {
			p.receiveOurFIN() // a FIN that crossed the peer's arrives first
		}
		p.received(e)
	}
	if len(p.path) == 0 {
		return "", ""
	}
	if p.crossed {
		// Shown as CLOSE-WAIT a line ago, on the guess that our FIN had
		// arrived; this segment shows it had not.
		before, remark = tcp.Established, ": the two FINs crossed"
	}
	var b strings.Builder
	b.WriteString(before.String())
	for _, s := range p.path {
		b.WriteString(" -> ")
		b.WriteString(s.String())
	}
	return b.String(), remark
}

// sent applies a segment the peer sent.
func (p *peerModel) sent(e *Event) {
	f := e.Fields.Flags
	if f&tcp.FlagSYN != 0 && f&tcp.FlagACK == 0 && p.state == tcp.Closed {
		p.move(tcp.SynSent)
	}
	if f&tcp.FlagFIN == 0 || p.finSent {
		return
	}
	p.finSent = true
	p.finEnd = e.Fields.Seq.Add(uint32(e.PayloadLen) + 1)
	switch p.state {
	case tcp.Established, tcp.SynReceived:
		p.move(tcp.FinWait1)
	case tcp.CloseWait:
		if f&tcp.FlagACK != 0 && e.Fields.Ack.LessThan(p.ourFinEnd) {
			// Its FIN does not acknowledge ours: it had not received ours
			// yet, and closed from ESTABLISHED. Ours is still on its way.
			p.state = tcp.FinWait1
			p.path = append(p.path[:0], tcp.FinWait1)
			p.ourFINReceived = false
			p.crossed = true
			return
		}
		p.move(tcp.LastAck)
	}
}

// received applies a segment the observed side sent, as the peer receives
// it.
func (p *peerModel) received(e *Event) {
	f := e.Fields.Flags
	switch {
	case f&tcp.FlagSYN != 0 && f&tcp.FlagACK != 0 && p.state == tcp.SynSent:
		p.move(tcp.Established)
	case f&tcp.FlagSYN != 0 && f&tcp.FlagACK == 0 && p.state == tcp.Listen:
		p.move(tcp.SynReceived)
	case f&tcp.FlagSYN == 0 && f&tcp.FlagACK != 0 && p.state == tcp.SynReceived:
		p.move(tcp.Established) // the ACK of its SYN
	}
	// The ACK is processed before the FIN (RFC 9293 3.10.7.4, fifth and
	// eighth), so a FIN that also acknowledges the peer's FIN takes
	// FIN-WAIT-1 straight to TIME-WAIT.
	fin := f&tcp.FlagFIN != 0 && !p.ourFINSent
	if p.finSent && f&tcp.FlagACK != 0 && e.Fields.Ack.GreaterThanEq(p.finEnd) {
		switch { // the ACK of its FIN
		case p.state == tcp.FinWait1 && fin:
			p.move(tcp.TimeWait)
			fin = false
			p.ourFINSent, p.ourFINReceived = true, true
		case p.state == tcp.FinWait1:
			p.move(tcp.FinWait2)
		case p.state == tcp.Closing:
			p.move(tcp.TimeWait)
		case p.state == tcp.LastAck:
			p.move(tcp.Closed)
		}
	}
	if fin {
		p.ourFINSent = true
		p.ourFinEnd = e.Fields.Seq.Add(uint32(e.PayloadLen) + 1)
		p.receiveOurFIN()
	}
}

// receiveOurFIN applies the arrival of the observed side's FIN.
func (p *peerModel) receiveOurFIN() {
	p.ourFINReceived = true
	switch p.state {
	case tcp.Established, tcp.SynReceived:
		p.move(tcp.CloseWait)
	case tcp.FinWait1:
		p.move(tcp.Closing)
	case tcp.FinWait2:
		p.move(tcp.TimeWait)
	}
}
