package tcp

import (
	"errors"
	"syscall"
	"time"
)

// Config holds every limit and knob of a connection. Start from
// DefaultConfig and change what you need; zero fields are not replaced by
// defaults, except where a field's comment says so.
type Config struct {
	// MSS is the largest segment payload we accept, advertised in our SYN
	// (RFC 9293 3.7.1). The stack derives it from the link MTU: MTU - 40.
	// It also caps what we send. Default 1460.
	MSS int
	// GSOMaxSize, when larger than the MSS, lets the Conn hand Output
	// segments of up to this many payload bytes (rounded down to a multiple
	// of SendMSS), to be cut into MSS-sized segments by segmentation
	// offload (link.GSOTCPv4 with GSOSize = Conn.SendMSS). Windows, Nagle
	// and congestion control still count in MSS-sized segments, and
	// retransmissions are one MSS. Default 0: one MSS per segment.
	GSOMaxSize int
	// SendBufferSize is the send ring's size in bytes: data written and not
	// yet acknowledged. Allocated once. Default 256 KiB.
	SendBufferSize int
	// ReceiveBufferSize is the receive ring's size in bytes: data received
	// and not yet read, plus out-of-order data. It bounds the advertised
	// window. Allocated once. Default 256 KiB.
	ReceiveBufferSize int
	// ReceiveBufferMin turns on receive buffer auto-tuning (dynamic
	// right-sizing, as Linux's tcp_moderate_rcvbuf): the window offered
	// starts at this many bytes and doubles, up to ReceiveBufferSize,
	// whenever the application reads more than half of it within one
	// round-trip time, so that a fast reader on a long path gets the
	// window it needs and a slow one does not make the peer fill memory
	// it will not read soon. Zero or at least ReceiveBufferSize: no
	// tuning, the whole buffer is offered. Default 64 KiB.
	ReceiveBufferMin int
	// ReassemblyLimit caps the bytes held out of order; segments beyond it
	// are dropped (and retransmitted by the peer). Default: the receive
	// buffer size. Zero means no out-of-order data is kept.
	ReassemblyLimit int
	// WindowScale offers window scaling (RFC 7323 section 2); it is used
	// only if the peer offers it too. Default true.
	WindowScale bool
	// SACK offers selective acknowledgments (RFC 2018): SACK-permitted in
	// our SYN; used only if the peer's SYN carries it too. The receiver then
	// reports out-of-order data and duplicates (D-SACK, RFC 2883), and the
	// sender recovers losses with a scoreboard (RFC 6675). Default true.
	SACK bool
	// RACK turns on RACK-TLP (RFC 8985) when SACK is in use: losses are
	// found by time (a segment sent before one that was delivered, and
	// out for longer than an RTT plus a reordering window, is lost), which
	// also finds lost retransmissions, and a tail loss probe after about
	// two RTTs of silence replaces most retransmission timeouts. Off, the
	// DupThresh rule of RFC 6675 decides. Default true.
	RACK bool
	// Timestamps offers the TCP timestamps option (RFC 7323 section 3),
	// used only if the peer's SYN carries it too: an RTT sample from every
	// ACK and protection against wrapped sequence numbers (PAWS, section
	// 5). It costs 12 bytes of every segment. Default true.
	Timestamps bool
	// NoOptions sends SYN and SYN+ACK segments without any TCP option: no
	// MSS (the peer then assumes 536, RFC 9293 3.7.1), and so no window
	// scale, SACK or timestamps either, since those are used only when
	// both SYNs carry them. It is BSD's TCP_NOOPT, for peers or
	// middleboxes that mishandle options. RFC 9293 3.7.1 says an MSS
	// option SHOULD be sent when the MSS differs from 536 (SHLD-5).
	// Default false.
	NoOptions bool

	// CongestionControl names the congestion control algorithm: "cubic"
	// (RFC 9438 with HyStart++, the default), "newreno" (RFC 5681, 6582),
	// or one added with RegisterCongestionControl. Empty means the default.
	CongestionControl string
	// RSTInWindowResets restores RFC 793's reset check: any RST in the
	// receive window resets the connection. By default (false) RFC 5961
	// section 3 applies: only a RST at exactly RCV.NXT resets and other
	// in-window RSTs draw a challenge ACK. RFC 9293 3.10.7.4 allows both:
	// "For stacks implementing the protection described in RFC 5961, the
	// three checks below apply; otherwise, processing for these states is
	// indicated further below." Linux and FreeBSD implement RFC 5961;
	// FreeBSD's net.inet.tcp.insecure_rst=1 switches it off.
	RSTInWindowResets bool
	// SYNInWindowResets restores RFC 793's answer to a SYN in a
	// synchronized state: "If the SYN is in the window it is an error,
	// send a reset ... enter the CLOSED state" (a SYN outside the window
	// still draws an ACK). By default (false) any SYN draws a challenge
	// ACK (RFC 5961 section 4). RFC 9293 3.10.7.4 presents that as the
	// mitigation "RFC 5961 recommends"; RFC 5961 section 1 leaves its
	// mitigations to each implementation's applicability. Linux and
	// FreeBSD send the challenge ACK; FreeBSD's
	// net.inet.tcp.insecure_syn=1 resets instead.
	SYNInWindowResets bool
	// NoACKRangeCheck turns off RFC 5961 section 5: by default ACKs below
	// SND.UNA - MAX.SND.WND are dropped and answered with an ACK, so that
	// blind data injection needs a plausible ACK too. RFC 9293 3.10.7.4
	// calls it a mitigation "that implementations MAY choose to include
	// (MAY-12)". Linux checks it.
	NoACKRangeCheck bool
	// ICMPConnectAbort chooses which ICMP errors end a connection attempt
	// (SYN-SENT or SYN-RECEIVED): RFC 9293 3.9.2.2's hard errors by
	// default (see ICMPConnectAbort and icmp.go).
	ICMPConnectAbort ICMPConnectAbort
	// ECN selects Explicit Congestion Notification (RFC 3168): ECNOff,
	// ECNAccept (use it when the peer's SYN asks for it, never ask) or
	// ECNRequest (ask in our SYN too). Once both ends agree, new data
	// segments carry ECT(0) (SYNs, segments without data, retransmissions
	// and window probes never do: RFC 3168 6.1.1, 6.1.4 - 6.1.6), a router
	// that would drop one marks it CE instead, the receiver echoes that
	// with ECE, and the sender reduces its window as for a loss, once per
	// window, telling the receiver with CWR. A listener answering with SYN
	// cookies keeps the agreement in the cookie's timestamp, so only with
	// peers that use timestamps (CookieSYNACK). The
	// default, ECNAccept, is Linux's (net.ipv4.tcp_ecn=2): ECN runs only
	// with peers that ask for it, so a path whose middleboxes mangle
	// ECN-setup SYNs costs tundra's own connections nothing, while peers
	// that ask get fewer losses. FreeBSD's default (ecn.enable=2) is the
	// same.
	ECN ECNMode
	// ECNSetupSYNRetries is how many retransmissions of an ECN-setup SYN
	// (ECNRequest) still ask for ECN; later ones are plain SYNs, in case
	// the path drops ECN-setup SYNs (RFC 3168 6.1.1.1: "A host that
	// receives no reply to an ECN-setup SYN within the normal SYN
	// retransmission timeout interval MAY resend the SYN and any subsequent
	// SYN retransmissions with CWR and ECE cleared"). Default 0:
	// only the first SYN asks, as Linux's tcp_ecn_fallback; FreeBSD's
	// net.inet.tcp.ecn.maxretries is 1.
	ECNSetupSYNRetries int
	// ChallengeACKLimit caps the challenge ACKs (and ACKs for unacceptable
	// ACK fields) a connection sends per second (RFC 5961 section 7).
	// It is per connection rather than per stack as in Linux: a global
	// counter is shared state an off-path attacker can probe (CVE-2016-5696).
	// Zero means no limit. Default 1000.
	ChallengeACKLimit int

	// InitialRTO is the retransmission timeout before any RTT sample (RFC
	// 6298 section 2.1: 1 s).
	InitialRTO time.Duration
	// MinRTO is the floor of the retransmission timeout. RFC 6298 section
	// 2.4 says 1 s; the default is 200 ms, as Linux uses, because a 1 s floor
	// makes every loss on a fast path cost a second.
	MinRTO time.Duration
	// MaxRTO is the ceiling of the backed-off timeout (RFC 6298 section 2.5
	// allows one of at least 60 s). Default 120 s.
	MaxRTO time.Duration
	// MaxRetries is how many times one segment is retransmitted on timeout
	// before the connection fails with ErrTimeout (RFC 9293 3.8.3, R2).
	// Default 15, as Linux's tcp_retries2.
	MaxRetries int
	// SynRetries is the same for our SYN (or SYN+ACK). Default 7: with
	// the 1 s initial RTO the SYNs leave at 0, 1, 3, 7, 15, 31, 63 and
	// 127 s and the attempt fails at 247 s (the last wait capped by the
	// 120 s MaxRTO), which meets RFC 9293 3.8.3: "The value of R2 for a SYN
	// segment MUST be set large enough to provide retransmission of the
	// segment for at least 3 minutes (MUST-23)". Linux's 6 gives up at
	// 127 s. A Dial with a context deadline, or ConnectTimeout, gives up
	// sooner, as the RFC allows the application to.
	SynRetries int

	// DelayedAck is the longest an ACK for in-order data is held back (RFC
	// 9293 3.8.6.3: under 0.5 s; RFC 1122 4.2.3.2). Every second full-sized
	// segment is acknowledged at once regardless. Zero disables delaying.
	// Default 40 ms (Linux's minimum delayed ACK).
	DelayedAck time.Duration
	// NoDelay disables the Nagle algorithm (RFC 9293 3.7.4): small segments
	// are sent even while earlier data is unacknowledged. Default false.
	NoDelay bool

	// KeepAlive turns on keepalive probes (RFC 1122 4.2.3.6): after
	// KeepAliveIdle without any segment from the peer, a probe is sent
	// every KeepAliveInterval, and after KeepAliveCount unanswered probes
	// the connection fails with ErrTimeout. Defaults: off, 2 h, 75 s, 9.
	KeepAlive         bool
	KeepAliveIdle     time.Duration
	KeepAliveInterval time.Duration
	KeepAliveCount    int
	// ConnectTimeout, when above zero, bounds the handshake: a connection
	// not established this long after its SYN was sent (or, for a
	// passive one, its SYN arrived) fails with ErrTimeout (or the ICMP
	// soft error that explains it), even if SynRetries are left. It is
	// BSD's TCP_KEEPINIT and a connect timeout for a Dial. RFC 9293 3.8.3
	// (R2 for SYN segments) asks that the threshold be at least 3 minutes
	// unless the application sets it, which this field does. Default 0:
	// only SynRetries limits the handshake.
	ConnectTimeout time.Duration
	// FinWait2Timeout ends a connection stuck in FIN-WAIT-2 after the
	// application closed both directions (as Linux's tcp_fin_timeout; a
	// half-closed connection waits for ever). Default 60 s.
	FinWait2Timeout time.Duration
	// MSL is the maximum segment lifetime; TIME-WAIT lasts 2*MSL (RFC 9293
	// 3.4.2). RFC 793 suggested 2 minutes; the default is 30 s, giving the
	// 60 s TIME-WAIT Linux uses.
	MSL time.Duration

	// Linger, when LingerSet, changes Close: with Linger 0 Close sends a RST
	// and discards unsent data at once (SO_LINGER with l_linger 0). Other
	// values behave like the default graceful close; the stack may use
	// Linger to bound how long its Close call waits.
	LingerSet bool
	Linger    time.Duration

	// OptionLayout chooses how options are laid out in the segments we
	// send: LayoutAligned (the default, as Linux) or LayoutBSD (as
	// FreeBSD; the packetdrill profile uses it). TCP's rules do not depend
	// on it (RFC 9293 3.2).
	OptionLayout OptionLayout
	// WindowShift, when above 0, is the window scale we offer (at most 14,
	// RFC 7323 2.3) instead of the smallest shift that covers the receive
	// buffer, for matching another stack's choice (FreeBSD offers 6).
	WindowShift int

	// The options below select, where RFC 9293 leaves the choice, what
	// 4.4BSD and FreeBSD do instead of what Linux does. All are off by
	// default; the packetdrill profile for the FreeBSD test suite turns
	// them on.

	// RepeatFIN makes every ACK sent in FIN-WAIT-1, CLOSING or LAST-ACK,
	// while our FIN is unacknowledged, carry the FIN again at its sequence
	// number (4.4BSD's tcp_output sends with the state's FIN flag and
	// steps SND.NXT back over a FIN already sent). RFC 9293 3.10.7.4
	// (eighth step) asks only that the peer's FIN be acknowledged, and a
	// receiver processes repeated sequence space once ("If a segment's
	// contents straddle the boundary between old and new, only the new
	// parts are processed"), so both a bare ACK (Linux) and one with the
	// FIN repeated (FreeBSD) are correct.
	RepeatFIN bool
	// ProcessOldACKs trims a segment that lies wholly before RCV.NXT (a
	// duplicate) to an empty one at RCV.NXT and goes on to process its ACK
	// field, sending an ACK unless that ACK ends the connection (4.4BSD's
	// tcp_input, Stevens vol. 2 p. 960: "Send an ACK to resynchronize and
	// drop any data. But keep on processing for RST or ACK"). RFC 9293
	// 3.10.7.4 describes the same trimming ("One could tailor actual
	// segments to fit this assumption by trimming off any portions that
	// lie outside the window ... and only processing further if the
	// segment then begins at RCV.NXT"); off (Linux), such a segment is
	// answered with an ACK and dropped, as the first step's table says.
	ProcessOldACKs bool
	// ReceiveWindowFromBuffer makes RCV.WND, the window the sequence tests
	// of RFC 9293 3.10.7.4 use, the free receive buffer space whenever that
	// is more than the window last advertised: the 16-bit window field
	// (RFC 7323 2.3: "SEG.WND = RCV.WND >> Rcv.Wind.Shift") cannot always
	// express it, and RFC 9293 3.8.6 defines the window as "the range of
	// sequence numbers the sender of the window (the data receiver) is
	// currently prepared to accept". FreeBSD takes the buffer space
	// (tcp_input: rcv_wnd = max(sbspace, rcv_adv - rcv_nxt)), except where
	// it keeps no buffer: in the SYN-RECEIVED state of a passive open (its
	// SYN cache) and in TIME-WAIT. Off (Linux), RCV.WND is the window
	// advertised.
	ReceiveWindowFromBuffer bool
	// TimeWaitIgnoresRST drops every RST in TIME-WAIT, the remedy RFC
	// 1337 section 3 gives against TIME-WAIT assassination ("(F1) Ignore
	// RST segments in TIME-WAIT state"): an old duplicate RST cannot end
	// the wait early and let the four-tuple be reused too soon. By default
	// a RST at RCV.NXT ends TIME-WAIT, as RFC 9293 3.10.7.4 says
	// ("CLOSING, LAST-ACK, TIME-WAIT STATES: If the RST bit is set, then
	// enter the CLOSED state") and as Linux does unless
	// net.ipv4.tcp_rfc1337 is set; FreeBSD always ignores it.
	TimeWaitIgnoresRST bool
	// TimeWaitACKsAll answers segments in TIME-WAIT as 4.4BSD's
	// tcp_twcheck does, before any sequence test: a segment without ACK
	// is dropped unanswered, and any other (a SYN aside) is acknowledged
	// unless it is a bare duplicate of the ACK expected (SEQ=RCV.NXT,
	// ACK=SND.NXT, no data). RFC 9293 3.10.7.4 says of TIME-WAIT "The only
	// thing that can arrive in this state is a retransmission of the
	// remote FIN. Acknowledge it, and restart the 2 MSL timeout", which
	// BSD applies to whatever arrives. By default the steps of 3.10.7.4
	// apply in order (as Linux): an unacceptable segment draws an ACK
	// (its "should" is lowercase, not a requirement), an acceptable one
	// without a FIN none.
	TimeWaitACKsAll bool
	// OfferWholeBuffer makes every segment offer all the free receive
	// buffer as window, rounded up to the window scale's unit, withholding
	// only windows smaller than min(buffer/4, MSS): FreeBSD's receiver
	// silly window syndrome avoidance (tcp_output), which decides when a
	// window update is worth a segment of its own but not what a segment
	// says. By default (as Linux) the right edge of the window moves only
	// by at least min(buffer/2, MSS), the algorithm RFC 9293 3.8.6.2.2
	// calls "suggested"; what it requires is that there be one ("A TCP
	// implementation MUST include a SWS avoidance algorithm in the
	// receiver", MUST-39). The rounding up is the remedy RFC 7323 2.4
	// discusses for a window that truncation would otherwise retract.
	OfferWholeBuffer bool
	// DropSYNFIN drops, in LISTEN and SYN-SENT, a segment with both SYN
	// and FIN set. By default the FIN is kept for after the handshake, as
	// RFC 9293 3.10.7.2 and 3.10.7.3 describe ("any other control or text
	// should be queued for processing later"); that "should" is not in
	// capitals, so not a requirement (RFC 9293 section 2.1, BCP 14). No
	// TCP sends SYN and FIN together except scanners fingerprinting a
	// stack, and Linux (in LISTEN) and FreeBSD with
	// net.inet.tcp.drop_synfin=1 drop the segment.
	DropSYNFIN bool
	// SYNOptionsRetries, when above 0, is how many times our SYN is
	// retransmitted with all its options; later retransmissions carry
	// the MSS option alone, and the connection then uses neither window
	// scaling, SACK nor timestamps. A middlebox that drops SYNs with
	// options it does not know lets the bare one through. Each of these
	// options is the sender's to offer or not (RFC 7323 2.2 and 3.2, RFC
	// 2018 section 2: they "may be sent" in a SYN). FreeBSD does this from
	// the third retransmission with net.inet.tcp.rexmit_drop_options=1;
	// Linux never does. Default 0: never.
	SYNOptionsRetries int
	// RTOSlop is added to every retransmission timeout computed after the
	// first (from the RTT estimate or by backing off), as FreeBSD adds
	// net.inet.tcp.rexmit_slop (200 ms) to allow for delayed ACKs. RFC
	// 6298 bounds the RTO from below (2.4: "if it is less than 1 second,
	// then the RTO SHOULD be rounded up to 1 second") and lets a maximum
	// be no less than 60 s (2.5), so a slightly larger RTO conforms.
	// Default 0, as Linux.
	RTOSlop time.Duration
}

// ECNMode says whether a connection uses ECN (Config.ECN).
type ECNMode uint8

// The ECN modes.
const (
	// ECNOff: no ECN; a peer's ECN-setup SYN is answered as a plain one.
	ECNOff ECNMode = iota
	// ECNAccept: ECN when the peer's SYN asks for it (RFC 3168 6.1.1).
	ECNAccept
	// ECNRequest: our SYN asks for ECN too (an ECN-setup SYN, ECE and CWR).
	ECNRequest
)

// DefaultConfig returns the defaults documented on each Config field.
func DefaultConfig() Config {
	return Config{
		MSS:               1460,
		SendBufferSize:    256 << 10,
		ReceiveBufferSize: 256 << 10,
		ReceiveBufferMin:  64 << 10,
		ReassemblyLimit:   256 << 10,
		WindowScale:       true,
		SACK:              true,
		RACK:              true,
		Timestamps:        true,
		ChallengeACKLimit: 1000,
		ECN:               ECNAccept,
		InitialRTO:        time.Second,
		MinRTO:            200 * time.Millisecond,
		MaxRTO:            120 * time.Second,
		MaxRetries:        15,
		SynRetries:        7,
		DelayedAck:        40 * time.Millisecond,
		KeepAliveIdle:     2 * time.Hour,
		KeepAliveInterval: 75 * time.Second,
		KeepAliveCount:    9,
		FinWait2Timeout:   60 * time.Second,
		MSL:               30 * time.Second,
	}
}

// FourTuple identifies a connection: our address and port, and the peer's.
type FourTuple struct {
	LocalAddr, RemoteAddr [4]byte
	LocalPort, RemotePort uint16
}

// Segment is a parsed inbound segment: the header fields, the parsed
// options and the payload (a view into the packet, not copied).
type Segment struct {
	HeaderFields
	Payload []byte
}

// Len returns the segment's length in sequence space: its payload plus one
// for SYN and one for FIN (RFC 9293 section 3.4, SEG.LEN).
func (s *Segment) Len() uint32 {
	n := uint32(len(s.Payload))
	if s.Flags&FlagSYN != 0 {
		n++
	}
	if s.Flags&FlagFIN != 0 {
		n++
	}
	return n
}

// ParseSegment parses a whole TCP segment (header, options, payload). It
// does not check the checksum: do that with Header.ChecksumValid first. The
// payload aliases b. It does not allocate.
func ParseSegment(b []byte) (Segment, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return Segment{}, err
	}
	return SegmentFromHeader(h)
}

// SegmentFromHeader parses the options of a Header view and returns the
// Segment.
func SegmentFromHeader(h Header) (Segment, error) {
	opts, err := ParseOptions(h.Options())
	if err != nil {
		return Segment{}, err
	}
	return Segment{
		HeaderFields: HeaderFields{
			SrcPort: h.SrcPort(), DstPort: h.DstPort(), Seq: h.Seq(), Ack: h.Ack(),
			Flags: h.Flags(), Window: h.Window(), Urgent: h.Urgent(), Options: opts,
		},
		Payload: h.Payload(),
	}, nil
}

// Payload is the data of an outbound segment: at most two slices of the
// send ring (Second is non-empty only when the data wraps around the ring's
// end). The slices alias the ring: Output must copy them before returning.
type Payload struct {
	First, Second []byte
}

// Len returns the payload length in bytes.
func (p Payload) Len() int { return len(p.First) + len(p.Second) }

// AppendTo appends the payload's bytes to b.
func (p Payload) AppendTo(b []byte) []byte { return append(append(b, p.First...), p.Second...) }

// Output is how a Conn sends: implemented by the stack, which prepends the
// IPv4 header, builds the TCP header (HeaderFields.Encode), fills in the
// checksum and writes the packet to the link. SendSegment must not call
// back into the Conn and must not keep payload after it returns.
type Output interface {
	SendSegment(id FourTuple, fields HeaderFields, payload Payload)
}

// Observer hears what a Conn does, for traces, ladders and tests. All
// methods are called synchronously from the Conn's methods; they must not
// call back into the Conn. Pointer arguments point at scratch space inside
// the Conn (so that observing costs no allocation per segment): copy what
// must outlive the call.
type Observer interface {
	// StateChanged reports a transition and its cause.
	StateChanged(id FourTuple, from, to State, cause Event)
	// SegmentSent reports a segment the Conn is handing to Output;
	// retransmission says it carries sequence space sent before.
	// fields points into the Conn and is valid only during the call.
	SegmentSent(id FourTuple, fields *HeaderFields, payloadLen int, retransmission bool)
	// SegmentReceived reports a segment given to HandleSegment, before it is
	// processed. seg points into the Conn and is valid only during the call;
	// seg.Payload must not be kept either.
	SegmentReceived(id FourTuple, seg *Segment)
}

// Error is a connection error. It matches its errno with errors.Is, so
// errors.Is(err, syscall.ECONNRESET) holds for ErrConnectionReset.
type Error struct {
	msg   string
	errno syscall.Errno
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// Errno returns the POSIX error number the error corresponds to.
func (e *Error) Errno() syscall.Errno { return e.errno }

// Is reports whether target is this error's errno.
func (e *Error) Is(target error) bool {
	var errno syscall.Errno
	return errors.As(target, &errno) && errno == e.errno
}

// The errors a Conn reports through Err, Read and Write.
var (
	// ErrConnectionRefused: a RST answered our SYN (RFC 9293 3.10.7.3).
	ErrConnectionRefused = &Error{"tcp: connection refused", syscall.ECONNREFUSED}
	// ErrConnectionReset: the peer reset an open connection.
	ErrConnectionReset = &Error{"tcp: connection reset by peer", syscall.ECONNRESET}
	// ErrTimeout: retransmissions or keepalive probes went unanswered.
	ErrTimeout = &Error{"tcp: connection timed out", syscall.ETIMEDOUT}
	// ErrConnectionAborted: the application aborted the connection.
	ErrConnectionAborted = &Error{"tcp: connection aborted", syscall.ECONNABORTED}
	// ErrClosedForWriting: Write after Close or Shutdown(ShutdownWrite).
	ErrClosedForWriting = &Error{"tcp: write after close", syscall.EPIPE}
	// ErrNotConnected: an operation that needs a connection attempted
	// before one was opened.
	ErrNotConnected = &Error{"tcp: not connected", syscall.ENOTCONN}
	// ErrAlreadyOpen: Connect or Listen on a Conn that is not CLOSED.
	ErrAlreadyOpen = &Error{"tcp: connection already open", syscall.EISCONN}
	// ErrNotSYN: AcceptSyn given a segment that is not a bare SYN.
	ErrNotSYN = &Error{"tcp: AcceptSyn needs a segment with SYN and without ACK or RST", syscall.EINVAL}
	// ErrConnUsed: Connect, Listen or AcceptSyn on a Conn whose connection
	// has ended. A Conn serves one connection; make a new one.
	ErrConnUsed = &Error{"tcp: connection already used", syscall.EINVAL}
)

// ShutdownHow says which direction Shutdown closes.
type ShutdownHow uint8

// Directions for Shutdown.
const (
	// ShutdownRead: further Reads return io.EOF; arriving data is still
	// acknowledged and discarded.
	ShutdownRead ShutdownHow = 1 << iota
	// ShutdownWrite: send FIN after the queued data (a half-close); the
	// connection can still receive.
	ShutdownWrite
	// ShutdownBoth is both.
	ShutdownBoth = ShutdownRead | ShutdownWrite
)

// Stats is a snapshot of a connection's counters and estimates, like the
// output of Linux's `ss -ti`.
type Stats struct {
	State State
	// Congestion control and RTT (RFC 5681, RFC 6298).
	CongestionControl string        // the algorithm's name, as ss -i shows it
	InRecovery        bool          // fast recovery (or recovery after a timeout) in progress
	MinRTT            time.Duration // smallest RTT sample
	CongestionWindow  int           // cwnd, bytes
	SlowStartThresh   int           // ssthresh, bytes
	SRTT, RTTVar      time.Duration // zero before the first sample
	RTO               time.Duration
	BytesInFlight     int // SND.NXT - SND.UNA
	// Counters.
	SegmentsSent, SegmentsReceived int
	Retransmissions                int // segments retransmitted, timeouts and fast retransmits
	Timeouts                       int // retransmission timer expiries
	FastRetransmits                int
	BytesSent                      int64 // data bytes sent, retransmissions included
	BytesAcked                     int64 // data bytes the peer acknowledged
	BytesReceived                  int64 // in-order data bytes received
	OutOfOrderDropped              int   // segments or parts dropped for the reassembly limit
	// Loss recovery and attacks.
	SACKBlocksReceived   int // valid SACK blocks taken from the peer's ACKs
	SACKedBytes          int // bytes above SND.UNA on the scoreboard
	DSACKsReceived       int // D-SACK blocks received: our retransmissions that were spurious (RFC 2883)
	DSACKsSent           int // D-SACK blocks sent: duplicates we received
	ReorderingSeen       int // SACKed or acknowledged data below a byte already SACKed (reordering, not loss)
	PAWSRejected         int // segments dropped by PAWS (RFC 7323 5.3)
	TailLossProbes       int // probes sent by TLP (RFC 8985 section 7)
	TLPRecoveries        int // losses a retransmitted probe repaired (RFC 8985 7.4): the window was reduced
	ReceiveSpaceGrown    int // times receive auto-tuning doubled the window limit
	ChallengeACKs        int // challenge ACKs sent (RFC 5961)
	ChallengeACKsLimited int // challenge ACKs not sent for the rate limit
	RSTsIgnored          int // RSTs out of the window or not at RCV.NXT (RFC 5961 3.2)
	// Negotiated options.
	SACK, Timestamps bool
	ECN              bool // both ends agreed on ECN (RFC 3168 6.1.1)
	// Windows and negotiated options.
	SendWindow       int // peer's advertised window, scaled
	ReceiveWindow    int // our advertised window
	ReceiveSpace     int // the window limit receive auto-tuning allows now
	PeerMSS          int // from the peer's SYN (536 if absent)
	SendMSS          int // min(PeerMSS, Config.MSS)
	SendWindowShift  int // peer's window scale, -1 if not in use
	RecvWindowShift  int // our window scale, -1 if not in use
	SendBuffered     int // bytes in the send ring
	ReceiveBuffered  int // in-order bytes waiting for Read
	OutOfOrderQueued int // bytes held out of order
}
