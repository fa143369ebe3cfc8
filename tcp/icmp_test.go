package tcp

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/tundra-net/tundra/ipv4"
)

// RFC 9293 3.9.2.2, hard errors (SHLD-26): a port unreachable that quotes
// our SYN ends the connection attempt with "connection refused", without a
// RST (none is owed: the peer never answered).
func TestICMPPortUnreachableRefusesConnect(t *testing.T) {
	s := toState(t, SynSent)
	if !s.c.HandleICMPError(ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort, localISS, s.now) {
		t.Fatal("message quoting our SYN not taken")
	}
	s.expect()
	s.expectState(Closed)
	if !errors.Is(s.c.Err(), syscall.ECONNREFUSED) {
		t.Fatalf("Err = %v, want ECONNREFUSED", s.c.Err())
	}
	if last := s.log.seen[len(s.log.seen)-1]; last != (Transition{SynSent, EventRecvICMPError, Closed}) {
		t.Fatalf("last transition %v", last)
	}
}

// RFC 5927 4.1: a message is believed only if it quotes sequence space in
// flight, here exactly our SYN's ISS; one quoting ISS-1 or ISS+1 could be
// forged blindly and is ignored.
func TestICMPErrorOutsideFlightIgnored(t *testing.T) {
	s := toState(t, SynSent)
	for _, seq := range []Seq{localISS - 1, localISS + 1} {
		if s.c.HandleICMPError(ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort, seq, s.now) {
			t.Fatalf("message quoting %d taken", seq)
		}
	}
	s.expectState(SynSent)
	if err := s.c.SoftError(); err != nil {
		t.Fatalf("SoftError = %v after ignored messages", err)
	}
}

// RFC 9293 3.9.2.2, soft errors: "a TCP implementation MUST NOT abort the
// connection (MUST-56), and it SHOULD make the information available to
// the application (SHLD-25)": the attempt goes on, SoftError reports the
// message, and when the SYN retries run out the connection fails with it
// rather than with a bare timeout.
func TestICMPSoftErrorReportedOnTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.SynRetries = 1
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	s.take()
	s.c.HandleICMPError(ipv4.ICMPDestinationUnreachable, ipv4.UnreachableNet, localISS, s.now)
	s.expectState(SynSent)
	if !errors.Is(s.c.SoftError(), syscall.ENETUNREACH) {
		t.Fatalf("SoftError = %v, want ENETUNREACH", s.c.SoftError())
	}
	s.advanceToDeadline()
	s.expect("SYN seq=1000")
	s.advanceToDeadline()
	s.expectState(Closed)
	if !errors.Is(s.c.Err(), syscall.ENETUNREACH) {
		t.Fatalf("Err = %v, want ENETUNREACH", s.c.Err())
	}
}

// The three ICMPConnectAbort choices, for a hard error, for time exceeded
// in transit and for a soft error, in SYN-SENT.
func TestICMPConnectAbortPolicies(t *testing.T) {
	type msg struct {
		typ  ipv4.ICMPType
		code uint8
	}
	portUnreachable := msg{ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort}
	prohibited := msg{ipv4.ICMPDestinationUnreachable, ipv4.UnreachableAdministrativelyProhibited}
	ttlExceeded := msg{ipv4.ICMPTimeExceeded, 0}
	hostUnreachable := msg{ipv4.ICMPDestinationUnreachable, ipv4.UnreachableHost}
	for _, tc := range []struct {
		policy ICMPConnectAbort
		m      msg
		abort  bool
		errno  syscall.Errno
	}{
		{ICMPAbortOnHardErrors, portUnreachable, true, syscall.ECONNREFUSED},
		{ICMPAbortOnHardErrors, prohibited, true, syscall.ECONNREFUSED},
		{ICMPAbortOnHardErrors, ttlExceeded, false, syscall.EHOSTUNREACH},
		{ICMPAbortOnHardErrors, hostUnreachable, false, syscall.EHOSTUNREACH},
		{ICMPAbortNever, portUnreachable, false, syscall.ECONNREFUSED},
		{ICMPAbortNever, ttlExceeded, false, syscall.EHOSTUNREACH},
		{ICMPAbortOnHardErrorsAndTimeExceeded, portUnreachable, true, syscall.ECONNREFUSED},
		{ICMPAbortOnHardErrorsAndTimeExceeded, ttlExceeded, true, syscall.EHOSTUNREACH},
		{ICMPAbortOnHardErrorsAndTimeExceeded, hostUnreachable, false, syscall.EHOSTUNREACH},
	} {
		cfg := testConfig()
		cfg.ICMPConnectAbort = tc.policy
		s := newStepper(t, cfg)
		s.c.Connect(s.now)
		s.take()
		s.c.HandleICMPError(tc.m.typ, tc.m.code, localISS, s.now)
		if aborted := s.c.State() == Closed; aborted != tc.abort {
			t.Errorf("policy %d, ICMP %d/%d: aborted %v, want %v", tc.policy, tc.m.typ, tc.m.code, aborted, tc.abort)
			continue
		}
		err := s.c.SoftError()
		if tc.abort {
			err = s.c.Err()
		}
		if !errors.Is(err, tc.errno) {
			t.Errorf("policy %d, ICMP %d/%d: error %v, want %v", tc.policy, tc.m.typ, tc.m.code, err, tc.errno)
		}
	}
}

// Once synchronized, even a hard error is kept as a soft one (RFC 5927
// section 5.2: a forged message must not end a working connection), and
// it is forgotten when the peer acknowledges the data it was about.
func TestICMPHardErrorSoftWhenEstablished(t *testing.T) {
	s := toState(t, Established)
	s.c.Write([]byte("hello"), s.now)
	s.expect("PSH|ACK seq=1001 len=5")
	s.c.HandleICMPError(ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort, localISS+1, s.now)
	s.expectState(Established)
	if !errors.Is(s.c.SoftError(), syscall.ECONNREFUSED) {
		t.Fatalf("SoftError = %v, want ECONNREFUSED", s.c.SoftError())
	}
	s.ack(remoteISS+1, localISS+6, 10000)
	if err := s.c.SoftError(); err != nil {
		t.Fatalf("SoftError = %v after the data was acknowledged", err)
	}
	// With nothing in flight there is nothing a message could be about.
	if s.c.HandleICMPError(ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort, localISS+6, s.now) {
		t.Fatal("message taken with nothing in flight")
	}
}

// A listener's connection in SYN-RECEIVED is a connection attempt too: a
// hard error about our SYN+ACK ends it.
func TestICMPHardErrorEndsSynReceived(t *testing.T) {
	s := newStepper(t, testConfig())
	syn := Segment{HeaderFields: HeaderFields{SrcPort: testID.RemotePort, DstPort: testID.LocalPort,
		Seq: remoteISS, Flags: FlagSYN, Window: 10000}}
	s.c.AcceptSyn(syn, s.now)
	s.take()
	s.c.HandleICMPError(ipv4.ICMPDestinationUnreachable, ipv4.UnreachableProtocol, localISS, s.now)
	s.expect()
	s.expectState(Closed)

	// A Conn opened by Listen goes back to LISTEN, as for a RST.
	s = toState(t, SynReceived)
	s.c.HandleICMPError(ipv4.ICMPDestinationUnreachable, ipv4.UnreachablePort, localISS, s.now)
	s.expect()
	s.expectState(Listen)
}

// Messages TCP does not act on: source quench (RFC 6633), redirects, and
// fragmentation needed (which is path MTU discovery's, SetPathMTU).
func TestICMPIgnoredTypes(t *testing.T) {
	s := toState(t, SynSent)
	for _, m := range []struct {
		typ  ipv4.ICMPType
		code uint8
	}{{ipv4.ICMPSourceQuench, 0}, {ipv4.ICMPRedirect, 1},
		{ipv4.ICMPDestinationUnreachable, ipv4.UnreachableFragmentationNeeded}} {
		if s.c.HandleICMPError(m.typ, m.code, localISS, s.now) {
			t.Errorf("ICMP %d/%d taken", m.typ, m.code)
		}
	}
	s.expectState(SynSent)
}

// Config.ConnectTimeout (TCP_KEEPINIT) ends a handshake that takes too
// long, before the SYN retries run out; SetConnectTimeout restarts it.
func TestConnectTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.ConnectTimeout = 5 * time.Second
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	var sent time.Duration
	for s.c.State() == SynSent {
		sent += s.advanceToDeadline()
		s.take()
	}
	if sent != 5*time.Second {
		t.Fatalf("closed after %v, want 5s", sent)
	}
	if !errors.Is(s.c.Err(), syscall.ETIMEDOUT) {
		t.Fatalf("Err = %v, want ETIMEDOUT", s.c.Err())
	}
	if last := s.log.seen[len(s.log.seen)-1]; last != (Transition{SynSent, EventConnectTimeout, Closed}) {
		t.Fatalf("last transition %v", last)
	}

	// Passive side, and the setter: the limit runs from when it is set.
	s = newStepper(t, testConfig())
	s.c.Listen()
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 10000}, "")
	s.take()
	s.advance(500 * time.Millisecond)
	s.c.SetConnectTimeout(2*time.Second, s.now)
	s.advance(1999 * time.Millisecond)
	s.take()
	s.expectState(SynReceived)
	s.advance(time.Millisecond)
	s.expectState(Closed)
	if last := s.log.seen[len(s.log.seen)-1]; last != (Transition{SynReceived, EventConnectTimeout, Closed}) {
		t.Fatalf("last transition %v", last)
	}

	// Established in time: the limit no longer applies.
	cfg.ConnectTimeout = time.Second
	s = establishedActive(t, cfg)
	if dl, ok := s.c.Deadline(); ok {
		t.Fatalf("deadline %v left after the handshake", dl.Sub(s.now))
	}
}

// Config.NoOptions (TCP_NOOPT): the SYN carries no option at all, and the
// options a peer offers in return are not used, since both SYNs must carry
// them (RFC 7323 2.2 and 3.2, RFC 2018 section 2). The peer's MSS still
// bounds what we send (RFC 9293 3.7.1).
func TestNoOptionsSYN(t *testing.T) {
	cfg := testConfig()
	cfg.WindowScale, cfg.SACK, cfg.Timestamps = true, true, true
	s := newStepper(t, cfg)
	if err := s.c.SetNoOptions(true); err != nil {
		t.Fatal(err)
	}
	s.c.Connect(s.now)
	syn := s.expect("SYN seq=1000")[0]
	if syn.Options != (Options{}) {
		t.Fatalf("SYN options %+v, want none", syn.Options)
	}
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 10000,
		Options: Options{HasMSS: true, MSS: 700, HasWindowScale: true, WindowScale: 7, SACKPermitted: true,
			HasTimestamps: true, TSVal: 1}}, "")
	ack := s.expect("ACK seq=1001 ack=5001")[0]
	if ack.Options.HasTimestamps {
		t.Fatal("timestamps used without our offer")
	}
	st := s.c.Stats()
	if st.SACK || st.Timestamps || st.SendWindowShift != -1 || st.SendMSS != 700 {
		t.Fatalf("negotiated SACK %v, timestamps %v, shift %d, send MSS %d; want none and 700",
			st.SACK, st.Timestamps, st.SendWindowShift, st.SendMSS)
	}
	if err := s.c.SetNoOptions(false); !errors.Is(err, syscall.EISCONN) {
		t.Fatalf("SetNoOptions on an open connection: %v, want EISCONN", err)
	}
}
