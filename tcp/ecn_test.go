package tcp

import (
	"strings"
	"testing"
)

// Tests of ECN (RFC 3168 section 6.1), named after its sections.

// ecnEstablished opens a connection whose SYN exchange agreed on ECN: our
// ECN-setup SYN (ECNRequest) answered by an ECN-setup SYN-ACK.
func ecnEstablished(t *testing.T) *stepper {
	t.Helper()
	return ecnEstablishedWith(t, testConfig())
}

// ecnEstablishedWith is ecnEstablished with the configuration cfg.
func ecnEstablishedWith(t *testing.T, cfg Config) *stepper {
	t.Helper()
	cfg.ECN = ECNRequest
	cfg.NoDelay = true
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	s.expect("SYN|ECE|CWR seq=1000")
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK | FlagECE, Window: 60000,
		Options: Options{HasMSS: true, MSS: 1000}}, "")
	got := s.expect("ACK seq=1001 ack=5001")
	if got[0].ECN != NotECT {
		t.Fatalf("pure ACK sent as %v, want Not-ECT (6.1.4)", got[0].ECN)
	}
	if !s.c.Stats().ECN {
		t.Fatal("ECN not agreed after an ECN-setup SYN-ACK")
	}
	return s
}

// TestRFC3168Section611ActiveOpen: an ECN-setup SYN (ECE and CWR) with
// ECNRequest; ECN is on after an ECN-setup SYN-ACK (ECE without CWR), off
// after a SYN-ACK with both or neither, and data then carries ECT(0) only
// when it is on.
func TestRFC3168Section611ActiveOpen(t *testing.T) {
	s := ecnEstablished(t)
	s.c.Write([]byte("data"), s.now)
	if got := s.expect("PSH|ACK seq=1001 len=4"); got[0].ECN != ECT0 {
		t.Fatalf("data sent as %v, want ECT(0)", got[0].ECN)
	}
	for _, flags := range []Flags{FlagSYN | FlagACK | FlagECE | FlagCWR, FlagSYN | FlagACK} {
		cfg := testConfig()
		cfg.ECN = ECNRequest
		s := newStepper(t, cfg)
		s.c.Connect(s.now)
		s.expect("SYN|ECE|CWR")
		s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: flags, Window: 60000}, "")
		s.take()
		s.c.Write([]byte("data"), s.now)
		if got := s.expect("PSH|ACK len=4"); s.c.Stats().ECN || got[0].ECN != NotECT {
			t.Fatalf("SYN-ACK %v: ECN %v, data sent as %v", flags, s.c.Stats().ECN, got[0].ECN)
		}
	}
}

// TestRFC3168Section611PassiveOpen: an ECN-setup SYN is answered with an
// ECN-setup SYN-ACK (ECE) unless ECN is off; a plain SYN with a plain
// SYN-ACK. ECNAccept, the default, never asks in its own SYN.
func TestRFC3168Section611PassiveOpen(t *testing.T) {
	if syn := DefaultConfig(); syn.ECN != ECNAccept {
		t.Fatalf("default ECN mode %v, want ECNAccept", syn.ECN)
	}
	for _, c := range []struct {
		mode  ECNMode
		flags Flags
		want  string
	}{
		{ECNAccept, FlagSYN | FlagECE | FlagCWR, "SYN|ACK|ECE"},
		{ECNRequest, FlagSYN | FlagECE | FlagCWR, "SYN|ACK|ECE"},
		{ECNOff, FlagSYN | FlagECE | FlagCWR, "SYN|ACK"},
		{ECNAccept, FlagSYN, "SYN|ACK"},
		{ECNAccept, FlagSYN | FlagECE, "SYN|ACK"}, // not an ECN-setup SYN
	} {
		cfg := testConfig()
		cfg.ECN = c.mode
		s := toStateWith(t, cfg, Listen)
		s.send(HeaderFields{Seq: remoteISS, Flags: c.flags, Window: 10000}, "")
		s.expect(c.want + " seq=1000 ack=5001")
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 10000}, "")
		if on := s.c.Stats().ECN; on != strings.HasSuffix(c.want, "ECE") {
			t.Fatalf("mode %v, SYN %v: ECN %v", c.mode, c.flags, on)
		}
	}
	s := newStepper(t, DefaultConfig())
	s.c.Connect(s.now)
	if got := s.take(); got[0].Flags != FlagSYN {
		t.Fatalf("ECNAccept sent %v, want a plain SYN", got[0].Flags)
	}
}

// TestRFC3168Section6111SYNRetransmissions: ECNSetupSYNRetries
// retransmissions still ask for ECN; later ones are plain SYNs.
func TestRFC3168Section6111SYNRetransmissions(t *testing.T) {
	cfg := testConfig()
	cfg.ECN, cfg.ECNSetupSYNRetries = ECNRequest, 1
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	s.expect("SYN|ECE|CWR")
	s.advanceToDeadline()
	s.expect("SYN|ECE|CWR")
	s.advanceToDeadline()
	s.expect("SYN")
	// A late ECN-setup SYN-ACK answers an earlier SYN, but a plain SYN has
	// gone out since: "has sent no non-ECN-setup SYN" no longer holds.
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK | FlagECE, Window: 60000}, "")
	s.expectState(Established)
	if s.c.Stats().ECN {
		t.Fatal("ECN on after a non-ECN-setup SYN was sent")
	}
}

// TestRFC3168Section611SimultaneousOpen: in a simultaneous open ECN is
// agreed only if both SYNs were ECN-setup SYNs; our SYN-ACK then carries
// ECE (and otherwise neither ECE nor CWR).
func TestRFC3168Section611SimultaneousOpen(t *testing.T) {
	for _, c := range []struct {
		mode   ECNMode
		peer   Flags
		synack string
	}{
		{ECNRequest, FlagSYN | FlagECE | FlagCWR, "SYN|ACK|ECE"},
		{ECNRequest, FlagSYN, "SYN|ACK"},
		{ECNAccept, FlagSYN | FlagECE | FlagCWR, "SYN|ACK"}, // our own SYN was plain
	} {
		cfg := testConfig()
		cfg.ECN = c.mode
		s := newStepper(t, cfg)
		s.c.Connect(s.now)
		s.take()
		s.send(HeaderFields{Seq: remoteISS, Flags: c.peer, Window: 10000}, "")
		s.expect(c.synack + " seq=1000 ack=5001")
		s.ack(remoteISS+1, localISS+1, 10000)
		s.expectState(Established)
		if on := s.c.Stats().ECN; on != strings.HasSuffix(c.synack, "ECE") {
			t.Fatalf("mode %v, peer's SYN %v: ECN %v", c.mode, c.peer, on)
		}
	}
}

// TestRFC3168Section613CEEchoedUntilCWR: a data segment marked CE makes
// every ACK carry ECE until a segment with CWR arrives.
func TestRFC3168Section613CEEchoedUntilCWR(t *testing.T) {
	s := ecnEstablished(t)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 60000, ECN: CE}, "aaaa")
	s.expect("ACK|ECE ack=5005")
	s.send(HeaderFields{Seq: remoteISS + 5, Ack: localISS + 1, Flags: FlagACK, Window: 60000, ECN: ECT0}, "bbbb")
	s.expect("ACK|ECE ack=5009")
	s.send(HeaderFields{Seq: remoteISS + 9, Ack: localISS + 1, Flags: FlagACK | FlagCWR, Window: 60000, ECN: ECT0}, "cccc")
	s.expect("ACK ack=5013")
}

// TestRFC3168Section612ECEReducesOncePerWindow: an ACK with ECE halves the
// congestion window (as a loss would) without growing it, the next new
// data segment carries CWR, and further ECEs for the same window of data
// change nothing; retransmissions never carry ECT or CWR (6.1.5).
func TestRFC3168Section612ECEReducesOncePerWindow(t *testing.T) {
	s := ecnEstablished(t)
	s.c.Write(make([]byte, 8000), s.now)
	if sent := s.take(); len(sent) != 8 {
		t.Fatalf("%d segments sent, want 8", len(sent))
	}
	cwnd := s.c.Stats().CongestionWindow
	s.ack(remoteISS+1, localISS+1+2000, 60000)
	grown := s.c.Stats().CongestionWindow
	if grown <= cwnd {
		t.Fatalf("cwnd %d after an ACK, want growth from %d", grown, cwnd)
	}
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1 + 3000, Flags: FlagACK | FlagECE, Window: 60000}, "")
	halved := s.c.Stats().CongestionWindow
	if halved >= grown {
		t.Fatalf("cwnd %d after ECE, want less than %d", halved, grown)
	}
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1 + 4000, Flags: FlagACK | FlagECE, Window: 60000}, "")
	if got := s.c.Stats().CongestionWindow; got != halved {
		t.Fatalf("cwnd %d after a second ECE for the same window, want %d (no growth, no reduction)", got, halved)
	}
	s.ack(remoteISS+1, localISS+1+8000, 60000)
	s.take()
	s.c.Write(make([]byte, 2000), s.now)
	got := s.expect("ACK|CWR seq=9001 len=1000", "PSH|ACK seq=10001 len=1000")
	if got[0].ECN != ECT0 || got[1].ECN != ECT0 {
		t.Fatalf("new data sent as %v, %v, want ECT(0)", got[0].ECN, got[1].ECN)
	}
	s.advanceToDeadline() // retransmission timeout
	got = s.expect("ACK seq=9001 len=1000")
	if got[0].ECN != NotECT {
		t.Fatalf("retransmission sent as %v, want Not-ECT (6.1.5)", got[0].ECN)
	}
}

// TestRFC3168Section616CEOnWindowProbeEchoed: the receiver ignores a CE
// mark on a segment outside its window (6.1.5: "the TCP data receiver
// SHOULD ignore the ECN field on arriving data packets that are outside of
// the receiver's current window"), but echoes one on a window probe into
// its zero window, which cannot be forged as easily (6.1.6: "if a window
// probe arrives with the CE codepoint set, then the receiver SHOULD
// respond to the ECN indications").
func TestRFC3168Section616CEOnWindowProbeEchoed(t *testing.T) {
	cfg := testConfig()
	cfg.ReceiveBufferSize = 2000
	s := ecnEstablishedWith(t, cfg)
	for i := range 2 {
		s.send(HeaderFields{Seq: remoteISS + 1 + Seq(1000*i), Ack: localISS + 1, Flags: FlagACK, Window: 60000, ECN: ECT0},
			string(make([]byte, 1000)))
	}
	s.expect("ACK ack=6001 win=1000", "ACK ack=7001 win=0")
	s.send(HeaderFields{Seq: remoteISS + 1 + 3000, Ack: localISS + 1, Flags: FlagACK, Window: 60000, ECN: CE}, "out of window")
	s.expect("ACK ack=7001 win=0")
	s.send(HeaderFields{Seq: remoteISS + 1 + 2000, Ack: localISS + 1, Flags: FlagACK, Window: 60000, ECN: CE}, "p")
	s.expect("ACK|ECE ack=7001 win=0")
}

// TestRFC3168Section613CEOnlyOnDataEchoed: "When TCP receives a CE data
// packet ... the TCP data receiver sets the ECN-Echo flag"; a pure ACK
// marked CE (congestion on the ACK path, 6.1.4) is neither answered nor
// echoed, and data marked CE afterwards still is.
func TestRFC3168Section613CEOnlyOnDataEchoed(t *testing.T) {
	s := ecnEstablished(t)
	s.c.Write([]byte("data"), s.now)
	s.expect("PSH|ACK seq=1001 len=4")
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 5, Flags: FlagACK, Window: 60000, ECN: CE}, "")
	s.expect()
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 5, Flags: FlagACK, Window: 60000, ECN: ECT0}, "aaaa")
	s.expect("ACK ack=5005")
	s.send(HeaderFields{Seq: remoteISS + 5, Ack: localISS + 5, Flags: FlagACK, Window: 60000, ECN: CE}, "bbbb")
	s.expect("ACK|ECE ack=5009")
}
