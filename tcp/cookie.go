package tcp

import "time"

// SYN cookies (RFC 4987 section 3.6): under a SYN flood a listener answers
// SYNs without keeping any state, encoding what it must remember in the
// initial sequence number of its SYN+ACK (the cookie, made by the stack:
// a keyed hash of the four-tuple and a time counter, with an index into a
// table of MSS values) and, when the peer uses timestamps, in the TSval of
// that SYN+ACK (window scale, SACK-permitted and ECN, as Linux does). The
// peer's ACK returns both; the stack checks the cookie and builds the
// connection with NewConnFromCookie, directly in ESTABLISHED.

// CookieOptions is what a SYN cookie remembers of the peer's SYN.
type CookieOptions struct {
	MSS         int  // the peer's MSS, rounded down to the cookie's table
	WindowScale int  // the peer's window shift, or -1 when not in use
	SACK        bool // the peer permitted SACK
	Timestamps  bool // the connection uses timestamps
	ECN         bool // the SYN+ACK agreed to the peer's ECN-setup SYN (RFC 3168 6.1.1)
}

// Bits of a cookie SYN+ACK's TSval that carry options (RFC 4987 leaves the
// encoding to the implementation; this one is Linux's): the low 4 bits
// hold the peer's window shift (15: none), bit 4 says SACK-permitted, bit
// 5 that the SYN+ACK was an ECN-setup SYN-ACK.
const (
	cookieTSBits    = 6
	cookieTSMask    = 1<<cookieTSBits - 1
	cookieWSNone    = 0xf
	cookieSACKBit   = 1 << 4
	cookieECNBit    = 1 << 5
	cookieWSBitMask = 0xf
)

// CookieSYNACK returns the SYN+ACK with which a listener configured by
// cfg answers syn without keeping state: sequence number iss (the cookie),
// ACK of the SYN, our MSS, and, when the peer offered timestamps, TSopt
// carrying its window scale, SACK-permitted and ECN in the TSval. Without
// timestamps there is nowhere to keep them, so the connection goes without
// window scaling, SACK and ECN: an ECN-setup SYN is then answered with a
// plain SYN-ACK (no ECE), which RFC 3168 6.1.1 allows ("If a host has
// received an ECN-setup SYN packet, then it MAY send an ECN-setup SYN-ACK
// packet"), and the peer then sets ECT on nothing either (6.1.1: not
// without having received an ECN-setup SYN-ACK). Linux does the same
// (tcp_conn_request). The window is unscaled, as in any SYN, and the IP
// header is Not-ECT (6.1.1: "A host MUST NOT set ECT on SYN or SYN-ACK
// packets").
func CookieSYNACK(cfg Config, syn *Segment, iss Seq, now time.Time) HeaderFields {
	f := HeaderFields{SrcPort: syn.DstPort, DstPort: syn.SrcPort, Seq: iss, Ack: syn.Seq.Add(1),
		Flags: FlagSYN | FlagACK}
	wnd := max(cfg.ReceiveBufferSize, 1)
	if cfg.ReceiveBufferMin > 0 {
		wnd = min(wnd, cfg.ReceiveBufferMin) // as the Conn's auto-tuning will start
	}
	f.Window = uint16(min(wnd, 0xffff))
	f.Options.HasMSS, f.Options.MSS = true, uint16(min(max(cfg.MSS, minAnnouncedMSS), 0xffff))
	if !cfg.Timestamps || !syn.Options.HasTimestamps {
		return f
	}
	bits := uint32(cookieWSNone)
	if cfg.WindowScale && syn.Options.HasWindowScale {
		bits = uint32(min(syn.Options.WindowScale, MaxWindowScale))
		f.Options.HasWindowScale = true
		f.Options.WindowScale = windowShiftFor(cfg.ReceiveBufferSize)
	}
	if cfg.SACK && syn.Options.SACKPermitted {
		bits |= cookieSACKBit
		f.Options.SACKPermitted = true
	}
	if cfg.ECN != ECNOff && isECNSetupSYN(syn) {
		bits |= cookieECNBit
		f.Flags |= FlagECE // an ECN-setup SYN-ACK (6.1.1)
	}
	// The TSval must not run ahead of the connection's later ones (the
	// peer's PAWS would drop them): round the clock down to the option
	// bits.
	clock := uint32(now.UnixMilli()) + tsOffsetFor(iss)
	ts := clock&^cookieTSMask | bits
	if tsBefore(clock, ts) {
		ts -= 1 << cookieTSBits
	}
	f.Options.HasTimestamps, f.Options.TSVal, f.Options.TSEcr = true, ts, syn.Options.TSVal
	return f
}

// CookieOptionsFromACK reads back what CookieSYNACK put in the TSval from
// the TSecr of the ACK that completes the handshake; mss is what the
// stack's cookie decoded.
func CookieOptionsFromACK(ack *Segment, mss int) CookieOptions {
	o := CookieOptions{MSS: mss, WindowScale: -1}
	if !ack.Options.HasTimestamps {
		return o
	}
	o.Timestamps = true
	bits := ack.Options.TSEcr & cookieTSMask
	if ws := int(bits & cookieWSBitMask); ws != cookieWSNone {
		o.WindowScale = ws
	}
	o.SACK = bits&cookieSACKBit != 0
	o.ECN = bits&cookieECNBit != 0
	return o
}

// windowShiftFor is the window scale we offer for a receive buffer of
// size bytes (RFC 7323 2.3), as Conn.ourWindowShift.
func windowShiftFor(size int) uint8 {
	s := uint8(0)
	for s < MaxWindowScale && max(size, 1)>>s > 0xffff {
		s++
	}
	return s
}

// tsOffsetFor is the per-connection TSval offset of a connection with
// initial sequence number iss (RFC 7323 section 5.4).
func tsOffsetFor(iss Seq) uint32 { return uint32(iss)*0x9e3779b1 ^ 0x5bd1e995 }

// NewConnFromCookie creates the connection a valid cookie ACK completes
// (RFC 4987 section 3.6), with ISS = SEG.ACK-1 (the cookie), IRS =
// SEG.SEQ-1, and the options the cookie kept. It is left in SYN-RECEIVED
// as if its SYN+ACK had been sent: give it the ACK with HandleSegment next
// (after SetObserver if wanted), and it enters ESTABLISHED and takes any
// data the ACK carries. The caller has validated the cookie.
func NewConnFromCookie(cfg Config, id FourTuple, ack Segment, opts CookieOptions, out Output, now time.Time) *Conn {
	iss := ack.Ack.Add(^uint32(0))
	c := NewConn(cfg, id, iss, out)
	c.used, c.passiveChild = true, true
	c.state = SynReceived // as if the SYN+ACK had been sent from LISTEN
	c.irs = ack.Seq.Add(^uint32(0))
	c.rcvNxt = ack.Seq
	c.sndNxt, c.sndMax = iss.Add(1), iss.Add(1)
	c.peerMSS = max(opts.MSS, minSendMSS)
	c.sndMSS = max(min(c.peerMSS, c.cfg.MSS), minSendMSS)
	if opts.WindowScale >= 0 && cfg.WindowScale {
		c.wsNegotiated, c.offerWS = true, true
		c.sndShift = uint8(min(opts.WindowScale, MaxWindowScale))
		c.rcvShift = c.ourWindowShift()
	} else {
		c.wsNegotiated, c.offerWS = false, false
	}
	c.sackOK = cfg.SACK && opts.SACK
	c.tsOK = cfg.Timestamps && opts.Timestamps
	// The SYN+ACK was an ECN-setup SYN-ACK answering an ECN-setup SYN: ECN
	// is agreed (RFC 3168 6.1.1), as in ecnTakeSYN.
	c.ecnOK = cfg.ECN != ECNOff && c.tsOK && opts.ECN
	if c.tsOK {
		c.tsRecent, c.tsRecentAt = ack.Options.TSVal, now
		c.sndMSS = max(c.sndMSS-timestampsOptionLen, minSendMSS)
	}
	c.lastAckSent = c.rcvNxt
	c.cc = newCongestionControl(c.cfg.CongestionControl, c.sndMSS)
	c.resetRecovery(c.iss)
	c.rcvRight = c.rcvNxt.Add(uint32(min(c.receiveSpace(), 0xffff)))
	c.sndWl1 = c.irs
	c.sndWl2 = c.iss
	return c
}
