package tcp

import (
	"io"
	"sync"
	"time"
)

// Conn is one TCP connection's transmission control block (RFC 9293
// section 3.3.1) and the state machine that drives it. It is sans-I/O: the
// owner calls it with inbound segments, user requests and timer ticks, each
// with the current time, and it answers through Output and Deadline.
//
// A Conn is not safe for concurrent use; the stack serializes calls.
type Conn struct {
	cfg Config
	id  FourTuple
	// softErrUna is SND.UNA when the ICMP soft error softErr came.
	softErrUna Seq
	out        Output
	obs        Observer
	err        error // why the connection ended, once it has
	state      State
	used       bool // the Conn has left CLOSED once: it cannot be opened again

	// How the connection was opened, for RST in SYN-RECEIVED (3.10.7.4).
	listenOpened bool      // Listen was called: a RST returns to LISTEN
	passiveChild bool      // AcceptSyn was called: a RST closes
	sndShift     uint8     // the peer's window scale (RFC 7323 2.3), with the send sequence space below
	softErr      icmpError // the last ICMP soft error (icmp.go), for as long as SND.UNA is softErrUna

	// Send sequence space (RFC 9293 section 3.3.1, Figure 3).
	iss       Seq
	sndUna    Seq // oldest unacknowledged
	sndNxt    Seq // next to send
	sndMax    Seq // highest ever sent + 1 (sndNxt goes back after a timeout)
	sndWnd    int // peer's window, scaled, counted from sndUna
	sndWl1    Seq // segment seq of the last window update
	sndWl2    Seq // segment ack of the last window update
	maxSndWnd int // largest window the peer offered (sender SWS, 3.8.6.2.1)
	sndMSS    int // effective send MSS
	peerMSS   int
	sendBuf   ring // written, unacknowledged data; first byte is sndBufSeq
	sndBufSeq Seq
	finQueued bool // the application closed the write side: FIN after the data
	synAcked  bool // our SYN has been acknowledged (not "SND.UNA > ISS": that wraps)
	// ECN (RFC 3168, ecn.go): here and below, where they fill alignment
	// padding.
	ecnOK        bool // both SYNs agreed on ECN
	ecnSetupSent bool // every SYN we sent was an ECN-setup SYN

	// Receive sequence space (Figure 4).
	irs      Seq
	rcvNxt   Seq
	rcvRight Seq // right edge of the window we advertised: never moves left
	rcvShift uint8
	// sender (ECN): set CWR on the next new data segment
	ecnCWRPending bool
	recvBuf       ring // in-order data not yet read, then out-of-order data
	ooo           rangeSet
	finRecvd      bool
	// An out-of-order FIN: processed when RCV.NXT reaches finSeq.
	finPending bool
	ecnEcho    bool // ECN receiver: set ECE on our ACKs until a CWR arrives
	finSeq     Seq

	offerWS bool // we offer window scaling in our SYN
	// Config.SYNOptionsRetries: our SYN now offers no window scaling,
	// SACK or timestamps.
	synOptionsDropped bool
	wsNegotiated      bool // both SYNs carried window scale (RFC 7323 2.2)

	// Application side.
	readShut  bool // Shutdown(ShutdownRead) or Close
	writeShut bool // Shutdown(ShutdownWrite) or Close
	appClosed bool // Close called: FIN-WAIT-2 may time out, data gets RST

	// Retransmission (RFC 6298).
	srtt, rttvar, rto time.Duration
	hasRTT            bool
	rtoHasSlop        bool // rto includes Config.RTOSlop
	rttTiming         bool // a segment is being timed
	synRetransmitted  bool
	rttSeq            Seq // ... whose end is this
	rttStart          time.Time
	retries           int           // consecutive timeouts without progress
	minRTT            time.Duration // smallest RTT sample, for the congestion control
	cc                CongestionControl
	lastSend          time.Time

	// Loss recovery (recovery.go): RFC 5681 3.2 with RFC 6582 (NewReno)
	// for peers without SACK, RFC 6675 with the SACK scoreboard.
	dupAcks             int
	dupAcksAboveRecover bool // the duplicate ACKs are above recover (RFC 6582 step 2)
	inRecovery          bool
	rtoRecovery         bool    // recovery after a timeout: all unSACKed data below recover is lost
	recover             Seq     // RFC 6582 "recover", RFC 6675 RecoveryPoint
	inflation           int     // NewReno window inflation without SACK (RFC 5681 3.2 step 4)
	sb                  sendLog // the scoreboard: segments in flight, SACKed, lost (scoreboard.go)

	// RACK-TLP (rack.go, RFC 8985).
	rackXmit           time.Time // RACK.xmit_ts: send time of the most recently sent delivered segment
	rackEnd            Seq       // RACK.end_seq
	ecnRecover         Seq       // ECN sender: no new reduction until SND.UNA passes this
	rackRTT            time.Duration
	rackReoWndMult     int
	rackRecoveries     int // recoveries since the multiplier last grew
	rackAt, tlpAt      time.Time
	rackReorderingSeen bool
	tlpInFlight        bool
	tlpEnd             Seq
	tlpRetransmitted   bool // the probe resent the last segment (rather than new data)
	tlpDSACKed         bool // a D-SACK showed the probe was not needed

	// SACK (RFC 2018) as receiver: the out-of-order ranges most recently
	// received, first in the SACK option; a pending D-SACK block (RFC 2883).
	sackOK       bool // both SYNs carried SACK-permitted
	sackRecent   [MaxSACKBlocks]Seq
	sackRecentN  int
	dsack        seqRange
	dsackPending bool

	// Timestamps (RFC 7323 sections 3 - 5).
	tsOK        bool      // both SYNs carried TSopt
	tsOffset    uint32    // added to our millisecond clock (RFC 7323 5.4)
	tsRecent    uint32    // TS.Recent
	lastAckSent Seq       // Last.ACK.sent
	tsRecentAt  time.Time // when TS.Recent was last set (the 24-day rule)

	// RFC 5961 section 7: challenge ACKs left in the current second.
	challengeACKs      int
	challengeACKsSince time.Time

	// Acknowledgments (RFC 9293 3.8.6.3).
	unackedBytes int   // in-order bytes received since our last ACK
	quickAcks    int32 // segments still to ACK at once after a loss (at most quickAckSegments)
	ackNow       bool  // send an ACK before returning

	// Receive buffer auto-tuning (autotune.go).
	rcvSpace      int       // bytes the window may cover, read or not
	rcvCopied     int       // bytes the application read since rcvCopiedFrom
	rcvCopiedFrom time.Time // start of the current measurement
	rcvRTT        time.Duration

	// Persist and keepalive.
	persistBackoff  int
	keepAliveProbes int
	lastHeard       time.Time // when the last segment passed the sequence test

	// Timers: the zero time means off.
	rtxAt, persistAt, delAckAt, keepAliveAt, finWait2At, timeWaitAt time.Time

	stats counters
}

// counters are the counters of Stats that a Conn keeps itself; Stats adds
// the state, estimates and windows when it is called.
type counters struct {
	SegmentsSent, SegmentsReceived int
	Retransmissions                int
	Timeouts                       int
	FastRetransmits                int
	BytesSent                      int64
	BytesAcked                     int64
	BytesReceived                  int64
	OutOfOrderDropped              int
	SACKBlocksReceived             int
	DSACKsReceived                 int
	DSACKsSent                     int
	ReorderingSeen                 int
	PAWSRejected                   int
	TailLossProbes                 int
	TLPRecoveries                  int
	ReceiveSpaceGrown              int
	ChallengeACKs                  int
	ChallengeACKsLimited           int
	RSTsIgnored                    int
}

// observed is where the Observer's pointer arguments point, so that passing
// them through the interface does not allocate. It is borrowed from a pool
// for each call rather than kept in every Conn (200 bytes each).
type observed struct {
	fields  HeaderFields
	segment Segment
}

var observedPool = sync.Pool{New: func() any { return new(observed) }}

// observeReceived tells the observer about an arriving segment.
func (c *Conn) observeReceived(seg *Segment) {
	o := observedPool.Get().(*observed)
	o.segment = *seg
	c.obs.SegmentReceived(c.id, &o.segment)
	o.segment = Segment{} // do not keep the payload alive
	observedPool.Put(o)
}

// observeSent tells the observer about a segment about to be sent.
func (c *Conn) observeSent(f *HeaderFields, n int, retrans bool) {
	o := observedPool.Get().(*observed)
	o.fields = *f
	c.obs.SegmentSent(c.id, &o.fields, n, retrans)
	o.fields = HeaderFields{}
	observedPool.Put(o)
}

// NewConn returns a connection in the CLOSED state for the four-tuple id,
// with initial send sequence number iss (pick it with ISNGenerator), sending
// through out. It allocates the send and receive rings of the configured
// sizes once. Call Connect for an active open, or Listen or AcceptSyn for a
// passive one.
func NewConn(cfg Config, id FourTuple, iss Seq, out Output) *Conn {
	cfg.MSS = max(cfg.MSS, minAnnouncedMSS)
	cfg.InitialRTO = max(cfg.InitialRTO, time.Millisecond)
	cfg.MinRTO = max(cfg.MinRTO, time.Millisecond)
	cfg.MaxRTO = max(cfg.MaxRTO, cfg.MinRTO)
	c := &Conn{
		cfg:     cfg,
		id:      id,
		out:     out,
		sendBuf: newRing(cfg.SendBufferSize),
		recvBuf: newRing(cfg.ReceiveBufferSize),
	}
	c.resetSequenceSpace(iss)
	return c
}

// resetSequenceSpace puts the control block back to "nothing exchanged yet"
// with initial send sequence iss.
func (c *Conn) resetSequenceSpace(iss Seq) {
	c.iss, c.sndUna, c.sndNxt, c.sndMax = iss, iss, iss, iss
	c.synAcked = false
	c.sndBufSeq = iss.Add(1)
	c.sndWnd, c.maxSndWnd, c.sndShift, c.rcvShift = 0, 0, 0, 0
	c.peerMSS = 536 // RFC 9293 3.7.1: the default when no MSS option arrives
	c.sndMSS = min(c.peerMSS, c.cfg.MSS)
	c.irs, c.rcvNxt, c.rcvRight = 0, 0, 0
	c.ooo.reset()
	c.finPending = false
	c.rto, c.rtoHasSlop = c.cfg.InitialRTO, false
	c.hasRTT, c.rttTiming, c.retries, c.synRetransmitted = false, false, 0, false
	c.cc = newCongestionControl(c.cfg.CongestionControl, c.sndMSS)
	c.minRTT = 0
	c.resetRecovery(iss)
	c.resetReceiveSpace()
	c.offerWS, c.wsNegotiated = c.cfg.WindowScale && !c.cfg.NoOptions, false
	c.synOptionsDropped = false
	c.ecnOK, c.ecnSetupSent, c.ecnEcho, c.ecnCWRPending, c.ecnRecover = false, false, false, false, iss
	c.sackOK, c.sackRecentN, c.dsackPending = false, 0, false
	c.tsOK, c.tsRecent, c.tsRecentAt = false, 0, time.Time{}
	// RFC 7323 section 5.4 recommends a random offset per connection for
	// TSval; iss is already an unpredictable keyed hash (RFC 6528), so a
	// mix of it serves.
	c.tsOffset = tsOffsetFor(iss)
}

// SetObserver installs o (nil for none) to hear about transitions and
// segments.
func (c *Conn) SetObserver(o Observer) { c.obs = o }

// ID returns the connection's four-tuple.
func (c *Conn) ID() FourTuple { return c.id }

// State returns the current state.
func (c *Conn) State() State { return c.state }

// Err returns why the connection ended (ErrConnectionRefused,
// ErrConnectionReset, ErrTimeout, ErrConnectionAborted), or nil while it is
// open or after a graceful close.
func (c *Conn) Err() error { return c.err }

// setState moves to state to because of cause, and tells the observer.
func (c *Conn) setState(to State, cause Event) {
	from := c.state
	c.state = to
	c.used = true
	if to == Closed {
		c.stopTimers()
	}
	if c.obs != nil {
		c.obs.StateChanged(c.id, from, to, cause)
	}
}

func (c *Conn) stopTimers() {
	c.rtxAt, c.persistAt, c.delAckAt, c.keepAliveAt, c.finWait2At, c.timeWaitAt =
		time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	c.rackAt, c.tlpAt = time.Time{}, time.Time{}
}

// ourWindowShift is the window scale we offer: the smallest shift that lets
// the 16-bit field describe the whole receive buffer (RFC 7323 2.3).
func (c *Conn) ourWindowShift() uint8 {
	if c.cfg.WindowShift > 0 {
		return uint8(min(c.cfg.WindowShift, MaxWindowScale))
	}
	s := uint8(0)
	for s < MaxWindowScale && c.recvBuf.cap()>>s > 0xffff {
		s++
	}
	return s
}

// ---- Opening: RFC 9293 section 3.10.1, OPEN Call ----

// Connect performs an active open (RFC 9293 3.10.1): it sends
// <SEQ=ISS><CTL=SYN> with our MSS and window scale options and enters
// SYN-SENT. This is the first leg of the three-way handshake (Figure 6,
// line 2). From LISTEN it is the "SEND" arrow of Figure 5.
func (c *Conn) Connect(now time.Time) error {
	cause := EventActiveOpen
	switch c.state {
	case Closed:
		if c.used {
			return ErrConnUsed
		}
	case Listen:
		cause = EventSend
		c.listenOpened = false
	default:
		return ErrAlreadyOpen
	}
	c.err = nil
	c.setState(SynSent, cause)
	c.sendSYN(now)
	return nil
}

// Listen performs a passive open (RFC 9293 3.10.1): CLOSED -> LISTEN. A SYN
// given to HandleSegment then starts the handshake; a RST in SYN-RECEIVED
// returns the Conn to LISTEN, as RFC 9293 Figure 5 draws it.
func (c *Conn) Listen() error {
	if c.state != Closed {
		return ErrAlreadyOpen
	}
	if c.used {
		return ErrConnUsed
	}
	c.err = nil
	c.listenOpened = true
	c.setState(Listen, EventPassiveOpen)
	return nil
}

// AcceptSyn is the passive open as a stack's listener does it: the stack
// keeps one listening socket and, for each SYN it accepts, makes a new Conn
// and hands it the SYN. The Conn passes through LISTEN, answers with
// SYN+ACK and enters SYN-RECEIVED (RFC 9293 3.10.7.2: "third, check for a
// SYN"). A RST later closes this Conn; the stack's listener carries on.
func (c *Conn) AcceptSyn(syn Segment, now time.Time) error {
	if c.state != Closed {
		return ErrAlreadyOpen
	}
	if c.used {
		return ErrConnUsed
	}
	if syn.Flags&(FlagSYN|FlagACK|FlagRST) != FlagSYN {
		return ErrNotSYN
	}
	c.err = nil
	c.passiveChild = true
	c.setState(Listen, EventPassiveOpen)
	c.HandleSegment(syn, now)
	return nil
}

// sendSYN sends our SYN (SYN-SENT) or SYN+ACK (SYN-RECEIVED) and arms the
// retransmission timer. The SYN occupies sequence number ISS.
func (c *Conn) sendSYN(now time.Time) {
	flags := FlagSYN
	if c.state == SynReceived {
		flags |= FlagACK
	}
	kind := newSegment
	if c.sndMax != c.iss {
		kind = resentSegment
	}
	if n := c.cfg.SYNOptionsRetries; n > 0 && c.state == SynSent && c.retries > n {
		c.synOptionsDropped, c.offerWS = true, false
	}
	c.sndNxt, c.sndMax = c.iss.Add(1), c.iss.Add(1)
	if kind == newSegment {
		c.rttTiming, c.rttSeq, c.rttStart = true, c.iss.Add(1), now
		c.armConnectTimeout(now)
	}
	c.emit(c.iss, flags, Payload{}, kind, now)
	c.rtxAt = now.Add(c.rto)
}

// ---- User calls: SEND, RECEIVE, CLOSE, ABORT (RFC 9293 3.10.2 - 3.10.5) ----

// Write copies as much of p as fits into the send buffer and sends what flow
// control, congestion control and Nagle allow (RFC 9293 3.10.2). It returns
// the number of bytes taken, which is less than len(p) when the buffer is
// full (wait for Writable to grow). Writing in SYN-SENT or SYN-RECEIVED
// queues the data until the connection is established.
func (c *Conn) Write(p []byte, now time.Time) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.writeShut {
		return 0, ErrClosedForWriting
	}
	switch c.state {
	case SynSent, SynReceived, Established, CloseWait:
	case Closed, Listen:
		return 0, ErrNotConnected
	default:
		return 0, ErrClosedForWriting
	}
	n := c.sendBuf.write(p)
	c.transmit(now)
	return n, nil
}

// Read copies received in-order data into p (RFC 9293 3.10.3). It returns
// (0, nil) when no data is there yet, io.EOF once the peer's FIN has been
// reached (or after Shutdown(ShutdownRead)), and the connection's error
// after a reset or timeout. When reading opens the window by enough
// (receiver SWS avoidance, 3.8.6.2.2), it sends a window update at once.
func (c *Conn) Read(p []byte, now time.Time) (int, error) {
	if c.recvBuf.len() == 0 || c.readShut {
		switch {
		case c.err != nil:
			return 0, c.err
		case c.finRecvd || c.readShut:
			return 0, io.EOF
		case c.state == Closed || c.state == Listen:
			return 0, ErrNotConnected
		}
		return 0, nil
	}
	n := c.recvBuf.read(p)
	c.tuneReceiveSpace(n, now)
	if c.canReceive() && c.windowWouldOpen() {
		c.ackNow = true
		c.transmit(now)
	}
	return n, nil
}

// Readable returns how many bytes Read can return now.
func (c *Conn) Readable() int {
	if c.readShut {
		return 0
	}
	return c.recvBuf.len()
}

// ReadReady reports whether Read would return something other than
// (0, nil): data, io.EOF or an error.
func (c *Conn) ReadReady() bool {
	return c.readShut || c.recvBuf.len() > 0 || c.finRecvd || c.err != nil ||
		c.state == Closed || c.state == Listen
}

// Writable returns how many bytes Write would take now (free space in the
// send buffer), or 0 when writing is no longer possible.
func (c *Conn) Writable() int {
	if c.writeShut {
		return 0
	}
	switch c.state {
	case SynSent, SynReceived, Established, CloseWait:
		return c.sendBuf.free()
	}
	return 0
}

// WriteReady reports whether Write would return something other than
// (0, nil): accept bytes or return an error.
func (c *Conn) WriteReady() bool {
	switch {
	case c.writeShut:
		return true
	case c.state == SynSent || c.state == SynReceived || c.state == Established || c.state == CloseWait:
		return c.sendBuf.free() > 0
	}
	return true
}

// Shutdown closes one or both directions. ShutdownWrite queues a FIN after
// the buffered data (a half-close: ESTABLISHED -> FIN-WAIT-1, CLOSE-WAIT ->
// LAST-ACK) while the connection still receives. ShutdownRead makes Read
// return io.EOF and discards arriving data (still acknowledged).
func (c *Conn) Shutdown(how ShutdownHow, now time.Time) error {
	if how&ShutdownRead != 0 {
		c.readShut = true
		c.recvBuf.consume(c.recvBuf.len())
		c.ooo.reset()
	}
	if how&ShutdownWrite != 0 && !c.writeShut {
		c.writeShut = true
		switch c.state {
		case Listen, SynSent:
			c.setState(Closed, EventClose)
		case SynReceived, Established:
			c.finQueued = true
			c.setState(FinWait1, EventClose)
		case CloseWait:
			c.finQueued = true
			c.setState(LastAck, EventClose)
		}
		c.transmit(now)
	}
	return nil
}

// Close closes the connection the way close(2) does (RFC 9293 3.10.4): both
// directions are shut, a FIN follows the buffered data, and the Conn moves
// through FIN-WAIT or LAST-ACK to TIME-WAIT or CLOSED on its own. If unread
// data is left in the receive buffer, or Config sets linger 0, it aborts
// with a RST instead (RFC 2525 2.17; SO_LINGER).
func (c *Conn) Close(now time.Time) error {
	if (c.cfg.LingerSet && c.cfg.Linger == 0) || (c.recvBuf.len() > 0 && !c.readShut) {
		c.Abort(now)
		return nil
	}
	c.appClosed = true
	c.Shutdown(ShutdownBoth, now)
	if c.state == FinWait2 {
		c.armFinWait2(now)
	}
	return nil
}

// Abort resets the connection (RFC 9293 3.10.5): in SYN-RECEIVED,
// ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 and CLOSE-WAIT it sends
// <SEQ=SND.NXT><CTL=RST>; in every state it discards both buffers and
// enters CLOSED. Later calls report ErrConnectionAborted.
func (c *Conn) Abort(now time.Time) {
	switch c.state {
	case Closed:
		return
	case SynReceived, Established, FinWait1, FinWait2, CloseWait:
		c.emit(c.sndNxt, FlagRST|FlagACK, Payload{}, newSegment, now)
	}
	c.readShut, c.writeShut, c.appClosed = true, true, true
	c.enterClosed(EventAbort, ErrConnectionAborted)
}

// enterClosed ends the connection: both buffers are dropped, timers stop.
func (c *Conn) enterClosed(cause Event, err error) {
	if err == ErrTimeout {
		err = c.timeoutError()
	}
	if c.err == nil {
		c.err = err
	}
	c.sendBuf.consume(c.sendBuf.len())
	if err != nil {
		c.recvBuf.consume(c.recvBuf.len())
	}
	c.ooo.reset()
	c.finQueued = false
	c.setState(Closed, cause)
}

// Stats returns a snapshot of the connection's counters and estimates.
func (c *Conn) Stats() Stats {
	k := &c.stats
	s := Stats{
		State:                c.state,
		SegmentsSent:         k.SegmentsSent,
		SegmentsReceived:     k.SegmentsReceived,
		Retransmissions:      k.Retransmissions,
		Timeouts:             k.Timeouts,
		FastRetransmits:      k.FastRetransmits,
		BytesSent:            k.BytesSent,
		BytesAcked:           k.BytesAcked,
		BytesReceived:        k.BytesReceived,
		OutOfOrderDropped:    k.OutOfOrderDropped,
		SACKBlocksReceived:   k.SACKBlocksReceived,
		DSACKsReceived:       k.DSACKsReceived,
		DSACKsSent:           k.DSACKsSent,
		ReorderingSeen:       k.ReorderingSeen,
		PAWSRejected:         k.PAWSRejected,
		TailLossProbes:       k.TailLossProbes,
		TLPRecoveries:        k.TLPRecoveries,
		ReceiveSpaceGrown:    k.ReceiveSpaceGrown,
		ChallengeACKs:        k.ChallengeACKs,
		ChallengeACKsLimited: k.ChallengeACKsLimited,
		RSTsIgnored:          k.RSTsIgnored,
	}
	s.CongestionControl = c.cc.Name()
	s.CongestionWindow = c.cc.CongestionWindow()
	s.SlowStartThresh = c.cc.SlowStartThreshold()
	s.InRecovery = c.inRecovery
	s.MinRTT = c.minRTT
	s.SACK, s.Timestamps, s.ECN = c.sackOK, c.tsOK, c.ecnOK
	s.SACKedBytes = c.sb.sackedBytes
	if c.hasRTT {
		s.SRTT, s.RTTVar = c.srtt, c.rttvar
	}
	s.RTO = c.rto
	s.BytesInFlight = int(c.sndNxt.Sub(c.sndUna))
	if c.inRecovery && c.sackOK {
		s.BytesInFlight = c.pipe()
	}
	s.SendWindow = c.sndWnd
	s.ReceiveWindow = int(c.rcvRight.Sub(c.rcvNxt))
	s.ReceiveSpace = c.rcvSpace
	s.PeerMSS, s.SendMSS = c.peerMSS, c.sndMSS
	s.SendWindowShift, s.RecvWindowShift = -1, -1
	if c.wsEnabled() {
		s.SendWindowShift, s.RecvWindowShift = int(c.sndShift), int(c.rcvShift)
	}
	s.SendBuffered = c.sendBuf.len()
	s.ReceiveBuffered = c.recvBuf.len()
	s.OutOfOrderQueued = c.ooo.bytes
	return s
}

// wsEnabled reports whether window scaling was negotiated (both SYNs
// carried the option). Scaling is in use exactly when we offered and the
// peer's shift was recorded; rcvShift/sndShift are 0 otherwise.
func (c *Conn) wsEnabled() bool { return c.wsNegotiated }
