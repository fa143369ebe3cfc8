package tcp

import (
	"errors"
	"io"
	"syscall"
	"testing"
	"time"
)

// Tests of the behaviours where RFC 9293 leaves a choice and Config
// selects 4.4BSD's (FreeBSD's) instead of the default, and of the RFC text
// the defaults follow. Each test shows both sides of the choice.

// rcvNxtIn is RCV.NXT in each state toState reaches: the peer's FIN, once
// received, takes one sequence number.
func rcvNxtIn(st State) Seq {
	switch st {
	case CloseWait, Closing, LastAck, TimeWait:
		return remoteISS + 2
	}
	return remoteISS + 1
}

// TestRFC793SYNInWindowResets: with Config.SYNInWindowResets a SYN in the
// window resets the connection in every synchronized state ("If the SYN is
// in the window it is an error, send a reset ... enter the CLOSED state"),
// and one outside it still draws an ACK; by default both draw a challenge
// ACK (RFC 5961 section 4).
func TestRFC793SYNInWindowResets(t *testing.T) {
	for _, st := range []State{Established, FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait} {
		cfg := testConfig()
		cfg.SYNInWindowResets = true
		s := toStateWith(t, cfg, st)
		sndNxt := s.c.sndNxt
		s.send(HeaderFields{Seq: rcvNxtIn(st).Add(70000), Flags: FlagSYN, Window: 1000}, "")
		s.expect("ACK") // outside the window
		s.expectState(st)
		s.send(HeaderFields{Seq: rcvNxtIn(st).Add(100), Flags: FlagSYN, Window: 1000}, "")
		got := s.expect("RST|ACK")
		if got[0].Seq != sndNxt || got[0].Ack != rcvNxtIn(st) {
			t.Fatalf("%v: reset %v, want seq=%d ack=%d", st, got[0], sndNxt, rcvNxtIn(st))
		}
		s.expectState(Closed)
		if !errors.Is(s.c.Err(), syscall.ECONNRESET) {
			t.Fatalf("%v: error %v, want ECONNRESET", st, s.c.Err())
		}

		s = toState(t, st)
		s.send(HeaderFields{Seq: rcvNxtIn(st).Add(100), Flags: FlagSYN, Window: 1000}, "")
		s.expect("ACK")
		s.expectState(st)
	}
}

// TestRFC5961ChallengeACKInSynReceived: the challenge ACK for an in-window
// RST (RFC 5961 section 3.2) is sent in SYN-RECEIVED too, as the plain ACK
// <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, not folded into a SYN+ACK.
func TestRFC5961ChallengeACKInSynReceived(t *testing.T) {
	s := toState(t, SynReceived)
	s.send(HeaderFields{Seq: remoteISS + 100, Flags: FlagRST}, "")
	s.expect("ACK seq=1001 ack=5001")
	s.expectState(SynReceived)
	s.send(HeaderFields{Seq: remoteISS + 1, Flags: FlagRST}, "")
	s.expectState(Listen)
}

// TestRepeatFINInClosingAndLastAck: with Config.RepeatFIN the ACK of the
// peer's FIN in CLOSING, and any ACK in LAST-ACK, carries our
// unacknowledged FIN again at its sequence number; by default it is a bare
// ACK (RFC 9293 3.10.7.4, eighth step: "send an acknowledgment for the
// FIN").
func TestRepeatFINInClosingAndLastAck(t *testing.T) {
	for _, repeat := range []bool{false, true} {
		cfg := testConfig()
		cfg.RepeatFIN = repeat
		s := establishedActive(t, cfg)
		s.c.Close(s.now)
		s.expect("FIN|ACK seq=1001 ack=5001")
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagFIN | FlagACK, Window: 10000}, "")
		s.expectState(Closing)
		if repeat {
			s.expect("FIN|ACK seq=1001 ack=5002")
		} else {
			s.expect("ACK seq=1002 ack=5002")
		}
		s.ack(remoteISS+2, localISS+2, 10000)
		s.expectState(TimeWait)
		s.expect()

		s = toStateWith(t, cfg, LastAck)
		// The peer's FIN again: its ACK was lost.
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagFIN | FlagACK, Window: 10000}, "")
		if repeat {
			s.expect("FIN|ACK seq=1001 ack=5002")
		} else {
			s.expect("ACK seq=1002 ack=5002")
		}
		s.expectState(LastAck)
	}
}

// TestProcessOldACKsTrimsDuplicates: with Config.ProcessOldACKs a segment
// wholly before RCV.NXT still has its ACK field processed (4.4BSD trims it
// to an empty segment at RCV.NXT): in LAST-ACK an old segment that
// acknowledges our FIN closes the connection, and in ESTABLISHED a
// retransmission of old data acknowledges ours. By default such a segment
// is answered with an ACK and dropped (RFC 9293 3.10.7.4, first step).
func TestProcessOldACKsTrimsDuplicates(t *testing.T) {
	for _, process := range []bool{false, true} {
		cfg := testConfig()
		cfg.ProcessOldACKs = process
		s := toStateWith(t, cfg, LastAck)
		s.ack(remoteISS+1, localISS+2, 10000) // SEQ = RCV.NXT-1
		if process {
			s.expect()
			s.expectState(Closed)
		} else {
			s.expect("ACK seq=1002 ack=5002")
			s.expectState(LastAck)
		}

		s = establishedActive(t, cfg)
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 10000}, "abc")
		s.expect("ACK seq=1001 ack=5004")
		s.c.Write([]byte("hello"), s.now)
		s.expect("PSH|ACK seq=1001 len=5")
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 6, Flags: FlagACK, Window: 10000}, "abc")
		s.expect("ACK seq=1006 ack=5004")
		inFlight := s.c.Stats().BytesInFlight
		if want := map[bool]int{false: 5, true: 0}[process]; inFlight != want {
			t.Fatalf("ProcessOldACKs %v: %d bytes in flight, want %d", process, inFlight, want)
		}
	}
}

// TestReceiveWindowFromBufferAtTheRightEdge: without window scaling a
// 70000-byte buffer is advertised as 65535. By default a RST beyond that
// is outside the window and dropped (RFC 5961 3.2, rule 1); with
// Config.ReceiveWindowFromBuffer the window is the buffer, so the RST is
// in it and draws a challenge ACK (rule 3), and data there is kept.
func TestReceiveWindowFromBufferAtTheRightEdge(t *testing.T) {
	for _, fromBuffer := range []bool{false, true} {
		cfg := testConfig()
		cfg.ReceiveBufferSize, cfg.ReassemblyLimit = 70000, 70000
		cfg.ReceiveWindowFromBuffer = fromBuffer
		s := establishedActive(t, cfg)
		s.send(HeaderFields{Seq: remoteISS + 1 + 65600, Flags: FlagRST}, "")
		if fromBuffer {
			s.expect("ACK seq=1001 ack=5001 win=65535")
		} else {
			s.expect()
		}
		s.expectState(Established)
		s.send(HeaderFields{Seq: remoteISS + 1 + 65600, Ack: localISS + 1, Flags: FlagACK, Window: 10000}, "xyz")
		s.expect("ACK seq=1001 ack=5001")
		if got, want := s.c.Stats().OutOfOrderQueued, map[bool]int{false: 0, true: 3}[fromBuffer]; got != want {
			t.Fatalf("ReceiveWindowFromBuffer %v: %d bytes queued, want %d", fromBuffer, got, want)
		}
	}
}

// TestFigure7SimultaneousOpenQueuesSYNText: RFC 9293 3.10.7.3, a SYN in
// SYN-SENT: "If there are other controls or text in the segment, queue
// them for processing after the ESTABLISHED state has been reached". The
// SYN+ACK acknowledges the SYN only; the data becomes readable, and the
// FIN after it is processed, when the ACK of our SYN arrives.
func TestFigure7SimultaneousOpenQueuesSYNText(t *testing.T) {
	s := newStepper(t, testConfig())
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN | FlagFIN, Window: 10000}, "abc")
	s.expect("SYN|ACK seq=1000 ack=5001")
	s.expectState(SynReceived)
	if s.c.ReadReady() {
		t.Fatal("SYN text readable before ESTABLISHED")
	}
	s.ack(remoteISS+5, localISS+1, 10000)
	s.expect("ACK seq=1001 ack=5005")
	s.expectState(CloseWait)
	buf := make([]byte, 10)
	if n, err := s.c.Read(buf, s.now); string(buf[:n]) != "abc" || err != nil {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if _, err := s.c.Read(buf, s.now); err != io.EOF {
		t.Fatalf("Read after the data: %v, want io.EOF", err)
	}
}

// TestDropSYNFIN: with Config.DropSYNFIN a segment with SYN and FIN is
// dropped in LISTEN and SYN-SENT; by default the SYN is answered and the
// FIN kept for later (RFC 9293 3.10.7.2: "any other control or text should
// be queued for processing later").
func TestDropSYNFIN(t *testing.T) {
	for _, drop := range []bool{false, true} {
		cfg := testConfig()
		cfg.DropSYNFIN = drop
		s := toStateWith(t, cfg, Listen)
		s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN | FlagFIN, Window: 10000}, "")
		if drop {
			s.expect()
			s.expectState(Listen)
		} else {
			s.expect("SYN|ACK seq=1000 ack=5001")
			s.expectState(SynReceived)
		}

		s = toStateWith(t, cfg, SynSent)
		s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN | FlagFIN, Window: 10000}, "")
		if drop {
			s.expect()
			s.expectState(SynSent)
		} else {
			s.expect("SYN|ACK seq=1000 ack=5001")
			s.expectState(SynReceived)
		}
	}
}

// TestRTOSlopAfterBackoff: Config.RTOSlop is added to every backed-off
// timeout (RFC 6298 5.5 doubles the base), not to the initial one.
func TestRTOSlopAfterBackoff(t *testing.T) {
	cfg := testConfig()
	cfg.RTOSlop = 200 * time.Millisecond
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	for _, want := range []time.Duration{time.Second, 2200 * time.Millisecond, 4200 * time.Millisecond} {
		if got := s.advanceToDeadline(); got != want {
			t.Fatalf("retransmission after %v, want %v", got, want)
		}
		s.expect("SYN seq=1000")
	}
}

// TestRFC9293TimeWaitSecondFINTakesNoSequenceSpace: a FIN at RCV.NXT in
// TIME-WAIT, after the peer's FIN was received, is answered like a
// retransmitted FIN (eighth step, TIME-WAIT: "Remain in the TIME-WAIT
// state. Restart the 2 MSL time-wait timeout."): the ACK still carries the
// RCV.NXT that follows the first FIN.
func TestRFC9293TimeWaitSecondFINTakesNoSequenceSpace(t *testing.T) {
	s := toState(t, TimeWait)
	s.advance(time.Second)
	s.send(HeaderFields{Seq: remoteISS + 2, Ack: localISS + 2, Flags: FlagFIN | FlagACK, Window: 10000}, "")
	s.expect("ACK seq=1002 ack=5002")
	s.expectState(TimeWait)
	if dl, _ := s.c.Deadline(); dl != s.now.Add(2*s.c.cfg.MSL) {
		t.Fatalf("TIME-WAIT ends at %v, want 2*MSL from now", dl.Sub(s.now))
	}
}

// TestProcessOldACKsClosingToTimeWait: with Config.ProcessOldACKs the
// peer's FIN again, now acknowledging ours, moves CLOSING to TIME-WAIT;
// 4.4BSD sends no resynchronizing ACK from there (its control block is
// gone), and neither does the Conn.
func TestProcessOldACKsClosingToTimeWait(t *testing.T) {
	cfg := testConfig()
	cfg.ProcessOldACKs = true
	s := toStateWith(t, cfg, Closing)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 2, Flags: FlagFIN | FlagACK, Window: 10000}, "")
	s.expect()
	s.expectState(TimeWait)
}

// TestSYNOptionsRetries: with Config.SYNOptionsRetries = 2 the third
// retransmission of our SYN offers the MSS alone, and a SYN+ACK that
// still offers SACK and timestamps does not turn them on.
func TestSYNOptionsRetries(t *testing.T) {
	cfg := testConfig()
	cfg.WindowScale, cfg.SACK, cfg.Timestamps = true, true, true
	cfg.SYNOptionsRetries = 2
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	full := func(seg sentSegment) bool {
		o := seg.Options
		return o.HasMSS && o.HasWindowScale && o.SACKPermitted && o.HasTimestamps
	}
	if got := s.expect("SYN"); !full(got[0]) {
		t.Fatalf("first SYN options %v", got[0].Options)
	}
	for i := 1; i <= 4; i++ {
		s.advanceToDeadline()
		got := s.expect("SYN")
		o := got[0].Options
		bare := o.HasMSS && !o.HasWindowScale && !o.SACKPermitted && !o.HasTimestamps
		if i <= 2 && !full(got[0]) || i > 2 && !bare {
			t.Fatalf("retransmission %d: options %v", i, o)
		}
	}
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 10000,
		Options: Options{HasMSS: true, MSS: 1000, SACKPermitted: true, HasTimestamps: true, TSVal: 7,
			HasWindowScale: true, WindowScale: 2}}, "")
	s.expectState(Established)
	if st := s.c.Stats(); st.SACK || st.Timestamps || st.SendWindowShift != -1 {
		t.Fatalf("negotiated SACK %v, timestamps %v, window shift %d after a bare SYN", st.SACK, st.Timestamps, st.SendWindowShift)
	}
}

// TestRFC1337TimeWaitIgnoresRST: with Config.TimeWaitIgnoresRST a RST at
// RCV.NXT leaves TIME-WAIT running (RFC 1337, "(F1) Ignore RST segments
// in TIME-WAIT state"); by default it ends it (RFC 9293 3.10.7.4).
func TestRFC1337TimeWaitIgnoresRST(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		cfg := testConfig()
		cfg.TimeWaitIgnoresRST = ignore
		s := toStateWith(t, cfg, TimeWait)
		s.send(HeaderFields{Seq: remoteISS + 2, Flags: FlagRST}, "")
		s.expect()
		if ignore {
			s.expectState(TimeWait)
		} else {
			s.expectState(Closed)
		}
	}
}

// TestTimeWaitACKsAll: with Config.TimeWaitACKsAll, TIME-WAIT answers as
// 4.4BSD's tcp_twcheck: a segment without ACK is dropped unanswered even
// outside the window, a bare duplicate of the expected ACK too, and every
// other segment (here an in-window ACK above RCV.NXT and a FIN there) is
// acknowledged. By default the first of these draws an ACK (it is not
// acceptable) and the in-window ones do not.
func TestTimeWaitACKsAll(t *testing.T) {
	for _, all := range []bool{false, true} {
		cfg := testConfig()
		cfg.TimeWaitACKsAll = all
		s := toStateWith(t, cfg, TimeWait)
		s.send(HeaderFields{Seq: remoteISS + 1, Flags: FlagFIN, Window: 10000}, "") // old, no ACK
		if all {
			s.expect()
		} else {
			s.expect("ACK seq=1002 ack=5002")
		}
		s.ack(remoteISS+2, localISS+2, 10000) // the duplicate ACK
		s.expect()
		s.ack(remoteISS+3, localISS+2, 10000)
		s.send(HeaderFields{Seq: remoteISS + 3, Ack: localISS + 2, Flags: FlagFIN | FlagACK, Window: 10000}, "")
		if all {
			s.expect("ACK seq=1002 ack=5002", "ACK seq=1002 ack=5002")
		} else {
			s.expect()
		}
		s.expectState(TimeWait)
	}
}

// TestOfferWholeBufferWindow: with Config.OfferWholeBuffer every segment
// offers all the free buffer (rounded up to the window scale's unit); by
// default the right edge moves only by min(buffer/2, MSS) at a time (RFC
// 9293 3.8.6.2.2), so 3 bytes held unread shrink the offer by 3.
func TestOfferWholeBufferWindow(t *testing.T) {
	for _, whole := range []bool{false, true} {
		cfg := testConfig()
		cfg.ReceiveBufferSize, cfg.ReassemblyLimit = 70000, 70000
		cfg.OfferWholeBuffer = whole
		s := establishedActive(t, cfg)
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 10000}, "abc")
		if whole {
			s.expect("ACK ack=5004 win=65535")
		} else {
			s.expect("ACK ack=5004 win=65532")
		}

		// Window scale 6: a 65700-byte buffer is 1026.6 units.
		cfg = testConfig()
		cfg.ReceiveBufferSize, cfg.ReassemblyLimit = 65700, 65700
		cfg.WindowScale, cfg.WindowShift = true, 6
		cfg.OfferWholeBuffer = whole
		s = establishedWith(t, cfg, Options{HasWindowScale: true, WindowScale: 0})
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 10000}, "x")
		got := s.expect("ACK ack=5002")
		if want := map[bool]uint16{false: 1023, true: 1027}[whole]; got[0].Window != want {
			t.Fatalf("OfferWholeBuffer %v: window field %d, want %d", whole, got[0].Window, want)
		}
	}
}
