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
	// Options, when true, adds each segment's TCP options ("<mss 1460,...>").
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

// ladderConn is one connection on the ladder: the notes waiting for the
// next line (state changes a user call caused before its segment went
// out), and the peer's inferred state.
type ladderConn struct {
	early []string
	peer  peerModel
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
		l.notes = append(l.notes, c.early...)
		c.early = c.early[:0]
		if note := c.peer.observe(e); note != "" {
			l.notes = append(l.notes, fmt.Sprintf("%s: %s (inferred)", l.Peer, note))
		}
		l.lineConn, l.hasLine = e.Conn, true
	case StateChange:
		if e.From == tcp.Closed && e.To == tcp.Listen && e.Cause == tcp.EventPassiveOpen && !l.hasLine {
			// A listener's child passes through LISTEN on its way to
			// SYN-RECEIVED; the listener itself was in LISTEN all along.
			return
		}
		note := fmt.Sprintf("%s: %v -> %v", l.Local, e.From, e.To)
		switch e.Cause {
		case tcp.EventActiveOpen, tcp.EventClose, tcp.EventSend, tcp.EventAbort:
			// A user call: the segment it sends comes next.
			c.early = append(c.early, note)
		case tcp.EventTimeWaitTimeout, tcp.EventFinWait2Timeout, tcp.EventRetransmitTimeout, tcp.EventKeepAliveTimeout:
			l.flushLocked()
			fmt.Fprintf(l.w, "%-*s %s after %v\n", l.segmentWidth(), "", note, e.Cause)
		default:
			if l.hasLine && l.lineConn == e.Conn {
				l.notes = append(l.notes, note)
			} else {
				c.early = append(c.early, note)
			}
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
func (l *Ladder) segmentWidth() int { return 2*max(len(l.Local), len(l.Peer)) + 4 + 1 + 8 + 1 + 40 }

func (l *Ladder) segmentLine(e *Event) {
	from, to := l.Peer, l.Local
	if e.Kind == SegmentOut {
		from, to = l.Local, l.Peer
	}
	name := max(len(l.Local), len(l.Peer))
	fmt.Fprintf(&l.line, "%-*s -> %-*s %-8s ", name, from, name, to, FlagsString(e.Fields.Flags))
	var seg strings.Builder
	fmt.Fprintf(&seg, "seq=%d", e.RelSeq)
	if e.Fields.Flags&tcp.FlagACK != 0 {
		fmt.Fprintf(&seg, " ack=%d", e.RelAck)
	}
	if e.PayloadLen > 0 {
		fmt.Fprintf(&seg, " len=%d", e.PayloadLen)
	}
	if e.Fields.Flags&tcp.FlagSYN != 0 || e.Fields.Window == 0 {
		fmt.Fprintf(&seg, " win=%d", e.Fields.Window)
	}
	if e.Summary != "" {
		fmt.Fprintf(&seg, " %q", e.Summary)
	}
	if l.Options {
		if o := e.Fields.Options.String(); o != "" {
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
// TCP and received what was sent to it.
type peerModel struct {
	state   tcp.State
	started bool
	finSent bool // the peer sent a FIN ...
	finEnd  tcp.Seq
	// ... and ourFIN says the observed side's FIN reached it.
	ourFIN bool
}

// observe updates the model with a segment and returns "FROM -> TO" if the
// peer's state changed.
func (p *peerModel) observe(e *Event) string {
	before := p.state
	if !p.started {
		p.started = true
		p.state = tcp.Closed
		if e.Kind == SegmentOut {
			p.state = tcp.Listen // we opened: the peer must have been listening
		}
		before = p.state
	}
	f := e.Fields.Flags
	if f&tcp.FlagRST != 0 {
		p.state = tcp.Closed
	} else if e.Kind == SegmentIn { // the peer sent it
		if f&tcp.FlagSYN != 0 && f&tcp.FlagACK == 0 && p.state == tcp.Closed {
			p.state = tcp.SynSent
		}
		if f&tcp.FlagFIN != 0 && !p.finSent {
			p.finSent = true
			p.finEnd = e.Fields.Seq.Add(uint32(e.PayloadLen) + 1)
			switch p.state {
			case tcp.Established, tcp.SynReceived:
				p.state = tcp.FinWait1
			case tcp.CloseWait:
				p.state = tcp.LastAck
			}
		}
	} else { // the peer received it
		switch {
		case f&tcp.FlagSYN != 0 && f&tcp.FlagACK != 0 && p.state == tcp.SynSent:
			p.state = tcp.Established
		case f&tcp.FlagSYN != 0 && f&tcp.FlagACK == 0 && p.state == tcp.Listen:
			p.state = tcp.SynReceived
		case f&tcp.FlagSYN == 0 && f&tcp.FlagACK != 0 && p.state == tcp.SynReceived:
			p.state = tcp.Established // the ACK of its SYN
		}
		ackOfFIN := p.finSent && f&tcp.FlagACK != 0 && e.Fields.Ack.GreaterThanEq(p.finEnd)
		fin := f&tcp.FlagFIN != 0 && !p.ourFIN
		if fin {
			p.ourFIN = true
		}
		switch {
		case fin && ackOfFIN && (p.state == tcp.FinWait1 || p.state == tcp.FinWait2):
			p.state = tcp.TimeWait
		case fin && p.state == tcp.FinWait1:
			p.state = tcp.Closing
		case fin && p.state == tcp.Established:
			p.state = tcp.CloseWait
		case ackOfFIN && p.state == tcp.FinWait1:
			p.state = tcp.FinWait2
		case ackOfFIN && p.state == tcp.Closing:
			p.state = tcp.TimeWait
		case ackOfFIN && p.state == tcp.LastAck:
			p.state = tcp.Closed
		}
	}
	if p.state != before {
		return fmt.Sprintf("%v -> %v", before, p.state)
	}
	return ""
}
