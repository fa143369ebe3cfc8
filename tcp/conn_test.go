package tcp

import (
	"errors"
	"io"
	"syscall"
	"testing"
	"time"
)

// Step tests, grouped by state like smoltcp's socket/tcp.rs tests, and named
// after RFC 9293's figures where they match. The peer's ISS is 5000 and
// ours 1000; MSS 1000; delayed ACKs are off unless a test turns them on.

// ---- Opening: Figures 6, 7, 8, 9 ----

func TestFigure6BasicThreeWayHandshakeActive(t *testing.T) {
	s := newStepper(t, testConfig())
	s.c.Connect(s.now)
	s.expectState(SynSent)
	s.expect("SYN seq=1000 ack=0 win=65535 mss=1000 ws=none")
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 8000,
		Options: Options{HasMSS: true, MSS: 1460}}, "")
	s.expect("ACK seq=1001 ack=5001 win=65535")
	s.expectState(Established)
	st := s.c.Stats()
	if st.PeerMSS != 1460 || st.SendMSS != 1000 || st.SendWindow != 8000 || st.SendWindowShift != -1 {
		t.Fatalf("stats after handshake: %+v", st)
	}
	if got := s.log.seen; len(got) != 2 || got[0] != (Transition{Closed, EventActiveOpen, SynSent}) ||
		got[1] != (Transition{SynSent, EventRecvSYNACK, Established}) {
		t.Fatalf("transitions %v", got)
	}
}

func TestFigure6BasicThreeWayHandshakePassive(t *testing.T) {
	s := newStepper(t, testConfig())
	s.c.Listen()
	s.expectState(Listen)
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 8000}, "")
	s.expect("SYN|ACK seq=1000 ack=5001 win=65535 mss=1000 ws=none")
	s.expectState(SynReceived)
	if st := s.c.Stats(); st.PeerMSS != 536 {
		t.Fatalf("peer MSS without the option: %d, want 536", st.PeerMSS)
	}
	s.ack(remoteISS+1, localISS+1, 8000)
	s.expect()
	s.expectState(Established)
}

func TestFigure7SimultaneousOpen(t *testing.T) {
	s := newStepper(t, testConfig())
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 8000}, "") // line 3
	s.expectState(SynReceived)
	s.expect("SYN|ACK seq=1000 ack=5001")                                                               // line 5
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 8000}, "") // line 6
	s.expectState(Established)
	s.expect()
	// Data flows at once.
	s.c.Write([]byte("hi"), s.now)
	s.expect("PSH|ACK seq=1001 ack=5001 len=2")
}

func TestSimultaneousOpenRSTRefuses(t *testing.T) {
	s := newStepper(t, testConfig())
	s.c.Connect(s.now)
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 8000}, "")
	s.take()
	s.send(HeaderFields{Seq: remoteISS + 1, Flags: FlagRST}, "")
	s.expectState(Closed)
	if !errors.Is(s.c.Err(), syscall.ECONNREFUSED) {
		t.Fatalf("err %v", s.c.Err())
	}
}

func TestFigure8OldDuplicateSYNActiveSide(t *testing.T) {
	s := newStepper(t, testConfig())
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	// Line 4: a SYN,ACK acknowledging an old SYN (ACK 91 is at or below our ISS).
	s.send(HeaderFields{Seq: 300, Ack: 991, Flags: FlagSYN | FlagACK, Window: 8000}, "")
	s.expect("RST seq=991") // line 5
	s.expectState(SynSent)
	s.send(HeaderFields{Seq: 400, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 8000}, "") // line 7
	s.expect("ACK seq=1001 ack=401")                                                              // line 8
	s.expectState(Established)
}

func TestFigure8OldDuplicateSYNPassiveSide(t *testing.T) {
	s := newStepper(t, testConfig())
	s.c.Listen()
	s.send(HeaderFields{Seq: 90, Flags: FlagSYN, Window: 8000}, "") // line 3: old duplicate
	s.expect("SYN|ACK seq=1000 ack=91")
	s.send(HeaderFields{Seq: 91, Flags: FlagRST}, "") // line 5
	s.expectState(Listen)
	s.send(HeaderFields{Seq: 100, Flags: FlagSYN, Window: 8000}, "") // line 6
	s.expect("SYN|ACK seq=1000 ack=101")
	s.expectState(SynReceived)
	s.ack(101, localISS+1, 8000)
	s.expectState(Established)
}

func TestSYNInSynReceivedReturnsToListen(t *testing.T) {
	s := toState(t, SynReceived)
	s.send(HeaderFields{Seq: remoteISS + 100, Flags: FlagSYN, Window: 8000}, "")
	s.expectState(Listen)
}

func TestFigure9HalfOpenDiscoveryEstablishedSide(t *testing.T) {
	s := toState(t, Established)
	// Line 3: the crashed peer's new SYN lands outside our window.
	s.send(HeaderFields{Seq: 400, Flags: FlagSYN, Window: 8000}, "")
	s.expect("ACK seq=1001 ack=5001")                            // line 4
	s.send(HeaderFields{Seq: remoteISS + 1, Flags: FlagRST}, "") // line 5
	s.expectState(Closed)
	if !errors.Is(s.c.Err(), ErrConnectionReset) {
		t.Fatalf("err %v", s.c.Err())
	}
	if _, err := s.c.Read(make([]byte, 10), s.now); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after reset: %v", err)
	}
}

func TestFigure9HalfOpenDiscoveryCrashedSide(t *testing.T) {
	s := newStepper(t, testConfig())
	s.c.Connect(s.now)
	s.take()
	// Line 4: the surviving peer acknowledges something from before the crash.
	s.send(HeaderFields{Seq: 300, Ack: 100, Flags: FlagACK, Window: 8000}, "")
	s.expect("RST seq=100") // line 5
	s.expectState(SynSent)
}

func TestRetransmittedSYNGetsSYNACKAgain(t *testing.T) {
	s := toState(t, SynReceived)
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 8000}, "")
	s.expect("SYN|ACK seq=1000 ack=5001")
	s.expectState(SynReceived)
}

func TestSynReceivedBadACKGetsRST(t *testing.T) {
	s := toState(t, SynReceived)
	s.ack(remoteISS+1, localISS+7, 8000)
	s.expect("RST seq=1007")
	s.expectState(SynReceived)
}

func TestListenAnswersACKWithRST(t *testing.T) {
	s := toState(t, Listen)
	s.ack(77, 1234, 100)
	s.expect("RST seq=1234")
	s.send(HeaderFields{Seq: 77, Flags: FlagRST}, "")
	s.send(HeaderFields{Seq: 77, Flags: FlagFIN}, "")
	s.expect()
	s.expectState(Listen)
}

func TestListenConnectSendsSYN(t *testing.T) {
	s := toState(t, Listen)
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	s.expectState(SynSent)
}

func TestConnectTwiceFails(t *testing.T) {
	s := toState(t, Established)
	if err := s.c.Connect(s.now); !errors.Is(err, ErrAlreadyOpen) {
		t.Fatalf("Connect in ESTABLISHED: %v", err)
	}
	if err := s.c.Listen(); !errors.Is(err, ErrAlreadyOpen) {
		t.Fatalf("Listen in ESTABLISHED: %v", err)
	}
}

func TestConnServesOneConnection(t *testing.T) {
	s := toState(t, TimeWait)
	s.advanceToDeadline()
	s.expectState(Closed)
	if err := s.c.Connect(s.now); !errors.Is(err, ErrConnUsed) {
		t.Fatalf("Connect on a finished Conn: %v", err)
	}
	if err := s.c.Listen(); !errors.Is(err, ErrConnUsed) {
		t.Fatalf("Listen on a finished Conn: %v", err)
	}
	if err := s.c.AcceptSyn(Segment{HeaderFields: HeaderFields{Flags: FlagSYN}}, s.now); !errors.Is(err, ErrConnUsed) {
		t.Fatalf("AcceptSyn on a finished Conn: %v", err)
	}
	if err := newStepper(t, testConfig()).c.AcceptSyn(Segment{HeaderFields: HeaderFields{Flags: FlagSYN | FlagACK}}, s.now); !errors.Is(err, ErrNotSYN) {
		t.Fatal("AcceptSyn of a SYN+ACK should fail")
	}
}

func TestSynSentRSTWithoutACKIgnored(t *testing.T) {
	s := toState(t, SynSent)
	s.send(HeaderFields{Seq: 1, Flags: FlagRST}, "")
	s.expectState(SynSent)
	s.send(HeaderFields{Seq: 1, Ack: localISS + 1, Flags: FlagRST | FlagACK}, "")
	s.expectState(Closed)
	if !errors.Is(s.c.Err(), ErrConnectionRefused) {
		t.Fatalf("err %v", s.c.Err())
	}
	if _, err := s.c.Write([]byte("x"), s.now); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Write after refusal: %v", err)
	}
}

func TestSynSentDataQueuedUntilEstablished(t *testing.T) {
	s := toState(t, SynSent)
	if n, err := s.c.Write([]byte("early"), s.now); n != 5 || err != nil {
		t.Fatalf("Write in SYN-SENT: %d %v", n, err)
	}
	s.expect()
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 8000}, "")
	s.expect("PSH|ACK seq=1001 ack=5001 len=5")
}

func TestSynAckWithDataAndFIN(t *testing.T) {
	s := toState(t, SynSent)
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK | FlagFIN, Window: 8000}, "hello")
	s.expect("ACK seq=1001 ack=5007")
	s.expectState(CloseWait)
	buf := make([]byte, 10)
	n, _ := s.c.Read(buf, s.now)
	if string(buf[:n]) != "hello" {
		t.Fatalf("read %q", buf[:n])
	}
	if _, err := s.c.Read(buf, s.now); err != io.EOF {
		t.Fatalf("second read: %v", err)
	}
}

func TestWindowScaleNegotiation(t *testing.T) {
	cfg := testConfig()
	cfg.WindowScale = true
	cfg.ReceiveBufferSize = 256 << 10
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	s.expect("SYN seq=1000 win=65535 ws=3")
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 1000,
		Options: Options{HasMSS: true, MSS: 1000, HasWindowScale: true, WindowScale: 7}}, "")
	// Our ACK's window is scaled by 3: 262144 >> 3.
	s.expect("ACK seq=1001 ack=5001 win=32768")
	if st := s.c.Stats(); st.SendWindow != 1000 || st.SendWindowShift != 7 || st.RecvWindowShift != 3 {
		t.Fatalf("SYN window must not be scaled: %+v", st)
	}
	s.ack(remoteISS+1, localISS+1, 1000)
	if st := s.c.Stats(); st.SendWindow != 1000<<7 {
		t.Fatalf("scaled window %d", st.SendWindow)
	}

	// The peer does not offer scaling: neither side scales.
	s = newStepper(t, cfg)
	s.c.Connect(s.now)
	s.take()
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 1000}, "")
	s.expect("ACK seq=1001 ack=5001 win=65535")
	s.ack(remoteISS+1, localISS+1, 1000)
	if st := s.c.Stats(); st.SendWindow != 1000 || st.SendWindowShift != -1 {
		t.Fatalf("unscaled: %+v", st)
	}

	// Passive: a SYN with window scale 20 is used as 14; our SYN+ACK echoes
	// the option.
	s = newStepper(t, cfg)
	s.c.Listen()
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 1000,
		Options: Options{HasWindowScale: true, WindowScale: 20}}, "")
	s.expect("SYN|ACK seq=1000 ack=5001 ws=3")
	s.ack(remoteISS+1, localISS+1, 1)
	if st := s.c.Stats(); st.SendWindow != 1<<14 {
		t.Fatalf("clamped shift: window %d", st.SendWindow)
	}
	// Passive without the peer's option: our SYN+ACK must not carry it.
	s = newStepper(t, cfg)
	s.c.Listen()
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 1000}, "")
	s.expect("SYN|ACK seq=1000 ack=5001 ws=none")
}

// ---- ESTABLISHED: data, acknowledgments, windows ----

func TestEstablishedDataBothWays(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK | FlagPSH, Window: 8000}, "hello")
	s.expect("ACK seq=1001 ack=5006 win=65530")
	buf := make([]byte, 3)
	if n, err := s.c.Read(buf, s.now); n != 3 || err != nil || string(buf) != "hel" {
		t.Fatalf("Read: %d %v %q", n, err, buf)
	}
	s.c.Write([]byte("world"), s.now)
	s.expect("PSH|ACK seq=1001 ack=5006 len=5")
	s.ack(remoteISS+6, localISS+6, 8000)
	if st := s.c.Stats(); st.BytesInFlight != 0 || st.BytesAcked != 5 || st.SendBuffered != 0 {
		t.Fatalf("stats %+v", st)
	}
	s.expect()
}

func TestEstablishedSegmentsUpToMSSAndWindow(t *testing.T) {
	s := toState(t, Established) // peer window 10000, MSS 1000, IW10 = 10000
	s.c.Write(make([]byte, 12500), s.now)
	segs := s.take()
	if len(segs) != 10 {
		t.Fatalf("sent %d segments, want 10 (window 10000, MSS 1000)", len(segs))
	}
	for i, g := range segs {
		if len(g.Payload) != 1000 || g.Seq != localISS+1+Seq(1000*i) {
			t.Fatalf("segment %d: %v", i, g)
		}
	}
	s.ack(remoteISS+1, localISS+1+2000, 10000)
	s.expect("ACK seq=11001 len=1000", "ACK seq=12001 len=1000")
}

func TestUnacceptableSegmentGetsACK(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS - 100, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "old")
	s.expect("ACK seq=1001 ack=5001")
	s.send(HeaderFields{Seq: remoteISS + 1 + 70000, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "future")
	s.expect("ACK seq=1001 ack=5001")
	// An RST that is not acceptable is dropped silently.
	s.send(HeaderFields{Seq: remoteISS + 1 + 70000, Flags: FlagRST}, "")
	s.expect()
	s.expectState(Established)
}

func TestACKOfUnsentDataGetsACK(t *testing.T) {
	s := toState(t, Established)
	s.ack(remoteISS+1, localISS+500, 8000)
	s.expect("ACK seq=1001 ack=5001")
}

func TestSYNInEstablishedGetsChallengeACK(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS + 10, Flags: FlagSYN, Window: 8000}, "")
	s.expect("ACK seq=1001 ack=5001")
	s.expectState(Established)
}

func TestOverlappingSegmentTrimmed(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "abc")
	s.take()
	s.send(HeaderFields{Seq: remoteISS + 2, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "bcdef")
	s.expect("ACK ack=5007")
	buf := make([]byte, 10)
	n, _ := s.c.Read(buf, s.now)
	if string(buf[:n]) != "abcdef" {
		t.Fatalf("read %q", buf[:n])
	}
}

func TestOutOfOrderReassembly(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS + 4, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "def")
	s.expect("ACK ack=5001") // immediate duplicate ACK (RFC 5681 4.2)
	s.send(HeaderFields{Seq: remoteISS + 10, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "jkl")
	s.expect("ACK ack=5001")
	if s.c.Readable() != 0 || s.c.Stats().OutOfOrderQueued != 6 {
		t.Fatalf("readable %d, queued %d", s.c.Readable(), s.c.Stats().OutOfOrderQueued)
	}
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "abc")
	s.expect("ACK ack=5007")
	s.send(HeaderFields{Seq: remoteISS + 7, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "ghi")
	s.expect("ACK ack=5013")
	buf := make([]byte, 20)
	n, _ := s.c.Read(buf, s.now)
	if string(buf[:n]) != "abcdefghijkl" {
		t.Fatalf("read %q", buf[:n])
	}
}

func TestReassemblyLimit(t *testing.T) {
	cfg := testConfig()
	cfg.ReassemblyLimit = 1500
	s := establishedActive(t, cfg)
	s.send(HeaderFields{Seq: remoteISS + 1001, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, string(make([]byte, 1000)))
	s.send(HeaderFields{Seq: remoteISS + 3001, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, string(make([]byte, 1000)))
	s.send(HeaderFields{Seq: remoteISS + 5001, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, string(make([]byte, 1000)))
	st := s.c.Stats()
	if st.OutOfOrderQueued != 1500 || st.OutOfOrderDropped != 2 {
		t.Fatalf("queued %d dropped %d, want 1500 and 2", st.OutOfOrderQueued, st.OutOfOrderDropped)
	}
}

func TestFINOutOfOrderWaits(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS + 4, Ack: localISS + 1, Flags: FlagACK | FlagFIN, Window: 8000}, "def")
	s.expectState(Established)
	s.take()
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "abc")
	// The gap is filled: the remembered FIN is processed too.
	s.expect("ACK ack=5008")
	s.expectState(CloseWait)
	buf := make([]byte, 10)
	if n, _ := s.c.Read(buf, s.now); string(buf[:n]) != "abcdef" {
		t.Fatalf("read %q", buf[:n])
	}
	if _, err := s.c.Read(buf, s.now); err != io.EOF {
		t.Fatalf("after the data: %v", err)
	}
}

func TestBareFINOutOfOrder(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS + 4, Ack: localISS + 1, Flags: FlagACK | FlagFIN, Window: 8000}, "")
	s.expect("ACK ack=5001")
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "ab")
	s.expectState(Established) // one byte still missing
	s.send(HeaderFields{Seq: remoteISS + 3, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "c")
	s.expectState(CloseWait)
}

func TestDelayedACK(t *testing.T) {
	cfg := testConfig()
	cfg.DelayedAck = 40 * time.Millisecond
	s := establishedActive(t, cfg)
	full := string(make([]byte, 1000))
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, full)
	s.expect() // first full-sized segment: held
	s.send(HeaderFields{Seq: remoteISS + 1001, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, full)
	s.expect("ACK ack=7001") // every second full-sized segment at once
	s.send(HeaderFields{Seq: remoteISS + 2001, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "x")
	s.expect()
	if d := s.advanceToDeadline(); d != 40*time.Millisecond {
		t.Fatalf("delayed ACK after %v, want 40ms", d)
	}
	s.expect("ACK ack=7002")
	// Data we send carries the ACK: no separate one follows.
	s.send(HeaderFields{Seq: remoteISS + 2002, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "y")
	s.c.Write([]byte("reply"), s.now)
	s.expect("PSH|ACK ack=7003 len=5")
	if _, ok := s.c.Deadline(); !ok {
		t.Fatal("retransmission timer should run")
	}
	if s.c.delAckAt != (time.Time{}) {
		t.Fatal("delayed ACK still pending after piggybacking")
	}
}

func TestNagle(t *testing.T) {
	s := toState(t, Established)
	s.c.Write([]byte("a"), s.now)
	s.expect("PSH|ACK seq=1001 len=1") // nothing in flight: goes at once
	s.c.Write([]byte("b"), s.now)
	s.c.Write([]byte("c"), s.now)
	s.expect() // held while "a" is unacknowledged
	s.ack(remoteISS+1, localISS+2, 10000)
	s.expect("PSH|ACK seq=1002 len=2") // coalesced
	// A full segment is never held.
	s.c.Write(make([]byte, 1000), s.now)
	s.expect("PSH|ACK seq=1004 len=1000")
}

func TestNoDelay(t *testing.T) {
	cfg := testConfig()
	cfg.NoDelay = true
	s := establishedActive(t, cfg)
	s.c.Write([]byte("a"), s.now)
	s.c.Write([]byte("b"), s.now)
	s.c.Write([]byte("c"), s.now)
	s.expect("PSH|ACK seq=1001 len=1", "PSH|ACK seq=1002 len=1", "PSH|ACK seq=1003 len=1")
}

func TestSendBufferLimit(t *testing.T) {
	cfg := testConfig()
	cfg.SendBufferSize = 3000
	s := establishedActive(t, cfg)
	n, err := s.c.Write(make([]byte, 5000), s.now)
	if n != 3000 || err != nil || s.c.Writable() != 0 || s.c.WriteReady() {
		t.Fatalf("Write %d %v, writable %d", n, err, s.c.Writable())
	}
	s.take()
	s.ack(remoteISS+1, localISS+1001, 10000)
	if s.c.Writable() != 1000 {
		t.Fatalf("writable after ACK: %d", s.c.Writable())
	}
}

func TestZeroWindowPersist(t *testing.T) {
	s := toState(t, Established)
	s.ack(remoteISS+1, localISS+1, 0) // the peer closes its window
	s.c.Write([]byte("0123456789"), s.now)
	s.expect()
	// The handshake's RTT sample was 0, so the RTO is MinRTO (200ms): probes
	// after 200ms, then backing off to 400ms, 800ms, 1.6s.
	for i, want := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond} {
		if d := s.advanceToDeadline(); d != want {
			t.Fatalf("probe %d after %v, want %v", i, d, want)
		}
		s.expect("ACK seq=1001 len=1")
		s.ack(remoteISS+1, localISS+1, 0) // still closed
	}
	s.expectState(Established)
	// The window opens: everything goes at once.
	s.ack(remoteISS+1, localISS+1, 100)
	s.expect("PSH|ACK seq=1001 len=10")
}

func TestZeroWindowProbeAccepted(t *testing.T) {
	s := toState(t, Established)
	s.ack(remoteISS+1, localISS+1, 0)
	s.c.Write([]byte("0123456789"), s.now)
	s.advanceToDeadline()
	s.expect("ACK seq=1001 len=1")
	// The peer had room after all: it acknowledges the probe byte.
	s.ack(remoteISS+1, localISS+2, 100)
	s.expect("PSH|ACK seq=1002 len=9")
}

func TestSenderSWSAvoidance(t *testing.T) {
	s := toState(t, Established) // the peer offered 10000 before
	s.ack(remoteISS+1, localISS+1, 10)
	s.c.Write(make([]byte, 3000), s.now)
	s.expect()            // 10 bytes is below MSS and half the largest window: wait
	s.advanceToDeadline() // the persist timer overrides (RFC 9293 3.8.6.2.1)
	s.expect("ACK seq=1001 len=10")
	s.ack(remoteISS+1, localISS+11, 6000) // full segments go; Nagle holds the tail
	s.expect("ACK seq=1011 len=1000", "ACK seq=2011 len=1000")
}

func TestSenderSWSAvoidanceHalfWindow(t *testing.T) {
	s := toState(t, Established)
	s.ack(remoteISS+1, localISS+1, 5000)
	s.c.Write(make([]byte, 9000), s.now)
	s.expect("ACK seq=1001 len=1000", "ACK seq=2001 len=1000", "ACK seq=3001 len=1000", "ACK seq=4001 len=1000", "ACK seq=5001 len=1000")
	s.ack(remoteISS+1, localISS+1001, 4500) // usable 500: under half of 10000, held
	s.expect()
	s.ack(remoteISS+1, localISS+2001, 4500) // usable 1500: one full segment
	s.expect("ACK seq=6001 len=1000")
}

func TestReceiverZeroWindowAndUpdate(t *testing.T) {
	cfg := testConfig()
	cfg.ReceiveBufferSize = 4000
	s := establishedActive(t, cfg)
	for i := range 4 {
		s.send(HeaderFields{Seq: remoteISS + 1 + Seq(1000*i), Ack: localISS + 1, Flags: FlagACK, Window: 8000},
			string(make([]byte, 1000)))
	}
	segs := s.take()
	if last := segs[len(segs)-1]; last.Ack != remoteISS+4001 || last.Window != 0 {
		t.Fatalf("last ACK %v, want a zero window at 9001", last)
	}
	// A probe into the zero window is answered with an ACK, not accepted.
	s.send(HeaderFields{Seq: remoteISS + 4001, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "p")
	s.expect("ACK ack=9001 win=0")
	// Reading less than min(buffer/2, MSS) = 1000 bytes: no update (SWS avoidance).
	buf := make([]byte, 600)
	s.c.Read(buf, s.now)
	s.expect()
	s.c.Read(buf, s.now)
	s.expect("ACK ack=9001 win=1200")
}

func TestTinyPeerMSSIsClamped(t *testing.T) {
	s := toState(t, Listen)
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 8000, Options: Options{HasMSS: true, MSS: 8}}, "")
	if got := s.c.SendMSS(); got != minSendMSS {
		t.Fatalf("send MSS %d, want the floor %d", got, minSendMSS)
	}
}

func TestMSSOptionLimitsSegments(t *testing.T) {
	s := newStepper(t, testConfig())
	s.c.Connect(s.now)
	s.take()
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 8000,
		Options: Options{HasMSS: true, MSS: 300}}, "")
	s.take()
	s.c.Write(make([]byte, 700), s.now)
	s.expect("ACK seq=1001 len=300", "ACK seq=1301 len=300") // Nagle holds the last 100
	s.ack(remoteISS+1, localISS+601, 8000)
	s.expect("PSH|ACK seq=1601 len=100")
}

// ---- Retransmission (RFC 6298) ----

func TestRetransmissionTimerRFC6298(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRetries = 3
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	s.take()
	s.advance(100 * time.Millisecond)
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 10000,
		Options: Options{HasMSS: true, MSS: 1000}}, "")
	s.take()
	// First sample (the SYN's) R = 100ms: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR = 300ms.
	st := s.c.Stats()
	if st.SRTT != 100*time.Millisecond || st.RTTVar != 50*time.Millisecond || st.RTO != 300*time.Millisecond {
		t.Fatalf("after first sample: srtt %v rttvar %v rto %v", st.SRTT, st.RTTVar, st.RTO)
	}
	// Second sample R' = 200ms: RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5ms,
	// SRTT = 7/8*100 + 1/8*200 = 112.5ms, RTO = 112.5 + 250 = 362.5ms.
	s.c.Write([]byte("ping"), s.now)
	s.take()
	s.advance(200 * time.Millisecond)
	s.ack(remoteISS+1, localISS+5, 10000)
	st = s.c.Stats()
	if st.SRTT != 112500*time.Microsecond || st.RTTVar != 62500*time.Microsecond || st.RTO != 362500*time.Microsecond {
		t.Fatalf("after second sample: srtt %v rttvar %v rto %v", st.SRTT, st.RTTVar, st.RTO)
	}
	// Now lose everything: retransmissions after RTO, 2*RTO, 4*RTO (5.5), then give up.
	s.c.Write([]byte("lost"), s.now)
	s.expect("PSH|ACK seq=1005 len=4")
	rto := 362500 * time.Microsecond
	for i := range 3 {
		if d := s.advanceToDeadline(); d != rto<<i {
			t.Fatalf("retransmission %d after %v, want %v", i+1, d, rto<<i)
		}
		s.expect("PSH|ACK seq=1005 len=4")
		if st := s.c.Stats(); st.CongestionWindow != 1000 {
			t.Fatalf("cwnd after timeout %d, want 1 MSS", st.CongestionWindow)
		}
	}
	if d := s.advanceToDeadline(); d != rto<<3 {
		t.Fatalf("give-up after %v", d)
	}
	s.expectState(Closed)
	if !errors.Is(s.c.Err(), ErrTimeout) || !errors.Is(s.c.Err(), syscall.ETIMEDOUT) {
		t.Fatalf("err %v", s.c.Err())
	}
	if st := s.c.Stats(); st.Timeouts != 4 || st.Retransmissions != 3 {
		t.Fatalf("timeouts %d retransmissions %d", st.Timeouts, st.Retransmissions)
	}
	st = s.c.Stats()
	if s.log.retransmissions != 3 || s.log.sent != st.SegmentsSent || s.log.received != st.SegmentsReceived {
		t.Fatalf("observer saw %d sent (%d retransmitted), %d received; stats say %d, %d",
			s.log.sent, s.log.retransmissions, s.log.received, st.SegmentsSent, st.SegmentsReceived)
	}
}

func TestKarnNoSampleFromRetransmission(t *testing.T) {
	s := toState(t, Established)
	s.c.Write([]byte("ping"), s.now)
	s.take()
	s.advanceToDeadline() // retransmit after 1 s
	s.expect("PSH|ACK seq=1001 len=4")
	s.advance(10 * time.Millisecond)
	s.ack(remoteISS+1, localISS+5, 10000)
	if st := s.c.Stats(); st.SRTT != 0 {
		t.Fatalf("sample taken from a retransmitted segment: srtt %v", st.SRTT)
	}
}

func TestRTOClampedToMinAndMax(t *testing.T) {
	s := toState(t, Established)
	s.c.Write([]byte("ping"), s.now)
	s.take()
	s.advance(time.Millisecond)
	s.ack(remoteISS+1, localISS+5, 10000)
	if st := s.c.Stats(); st.RTO != 200*time.Millisecond {
		t.Fatalf("RTO %v, want MinRTO 200ms", st.RTO)
	}
	s.c.cfg.MaxRetries = 20
	s.c.Write([]byte("lost"), s.now)
	for range 12 {
		s.advanceToDeadline()
	}
	if st := s.c.Stats(); st.RTO != 120*time.Second {
		t.Fatalf("RTO %v, want MaxRTO 120s", st.RTO)
	}
}

// TestSYNRetransmissionsAndTimeout: the default SynRetries keeps a SYN
// going for at least 3 minutes (RFC 9293 3.8.3, MUST-23): seven
// retransmissions, 1 s apart doubling, then the 120 s MaxRTO wait, and
// the attempt fails 247 s after the first SYN.
func TestSYNRetransmissionsAndTimeout(t *testing.T) {
	s := toState(t, SynSent)
	var elapsed time.Duration
	for i := range 7 {
		d := s.advanceToDeadline()
		if d != time.Second<<i {
			t.Fatalf("SYN retransmission %d after %v, want %v", i+1, d, time.Second<<i)
		}
		elapsed += d
		s.expect("SYN seq=1000")
	}
	elapsed += s.advanceToDeadline()
	s.expectState(Closed)
	if elapsed != 247*time.Second {
		t.Errorf("the attempt failed after %v, want 247s", elapsed)
	}
	if !errors.Is(s.c.Err(), ErrTimeout) {
		t.Fatalf("err %v", s.c.Err())
	}
}

func TestSynReceivedTimeout(t *testing.T) {
	s := toState(t, SynReceived)
	s.c.cfg.SynRetries = 1
	s.advanceToDeadline()
	s.expect("SYN|ACK seq=1000 ack=5001")
	s.advanceToDeadline()
	s.expectState(Closed)
}

func TestRFC6298Section57AfterSYNRetransmit(t *testing.T) {
	s := toState(t, SynSent)
	s.advanceToDeadline()
	s.take()
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 8000}, "")
	if st := s.c.Stats(); st.RTO != 3*time.Second || st.SRTT != 0 {
		t.Fatalf("RTO after a retransmitted SYN: %v (srtt %v), want 3s", st.RTO, st.SRTT)
	}
}

func TestFastRetransmit(t *testing.T) {
	s := toState(t, Established)
	s.c.Write(make([]byte, 5000), s.now)
	s.take()
	s.ack(remoteISS+1, localISS+1001, 10000)
	s.take()
	s.ack(remoteISS+1, localISS+1001, 10000) // duplicate 1
	s.ack(remoteISS+1, localISS+1001, 10000) // duplicate 2
	s.expect()
	s.ack(remoteISS+1, localISS+1001, 10000) // duplicate 3
	s.expect("ACK seq=2001 len=1000")
	st := s.c.Stats()
	// cwnd = ssthresh; the window in use is inflated by the three segments
	// that left the network (RFC 5681 3.2 step 3).
	if st.FastRetransmits != 1 || st.SlowStartThresh != 2000 || st.CongestionWindow != 2000 || s.c.sendWindow() != 5000 {
		t.Fatalf("after fast retransmit: window %d, %+v", s.c.sendWindow(), st)
	}
	s.ack(remoteISS+1, localISS+5001, 10000)
	if st := s.c.Stats(); st.CongestionWindow != 2000 {
		t.Fatalf("cwnd after recovery %d, want ssthresh", st.CongestionWindow)
	}
}

func TestLimitedTransmit(t *testing.T) {
	s := toState(t, Established)
	s.ack(remoteISS+1, localISS+1, 60000)
	s.c.Write(make([]byte, 12000), s.now)
	if segs := s.take(); len(segs) != 10 {
		t.Fatalf("IW10 should send 10 segments, sent %d", len(segs))
	}
	s.ack(remoteISS+1, localISS+1, 60000) // duplicate 1: one new segment
	s.expect("ACK seq=11001 len=1000")
	s.ack(remoteISS+1, localISS+1, 60000) // duplicate 2: another
	s.expect("PSH|ACK seq=12001 len=1000")
	s.ack(remoteISS+1, localISS+1, 60000) // duplicate 3: fast retransmit
	s.expect("ACK seq=1001 len=1000")
	if st := s.c.Stats(); st.SlowStartThresh != 6000 {
		t.Fatalf("ssthresh %d, want half of the 12000 in flight", st.SlowStartThresh)
	}
}

// TestNewRenoPartialACK loses two segments of one window: the first comes
// back by fast retransmit, the second at once on the partial ACK (RFC 6582)
// rather than after a timeout.
func TestNewRenoPartialACK(t *testing.T) {
	s := toState(t, Established)
	s.c.Write(make([]byte, 6000), s.now)
	s.take()      // segments at 1001, 2001, ..., 6001; 1001 and 3001 are lost
	for range 3 { // 2001, 4001 and 5001 arrive: three duplicate ACKs
		s.ack(remoteISS+1, localISS+1, 10000)
	}
	s.expect("ACK seq=1001 len=1000")        // fast retransmit
	s.ack(remoteISS+1, localISS+1, 10000)    // from 6001: inflates cwnd
	s.ack(remoteISS+1, localISS+2001, 10000) // partial: 1001 and 2001 held
	s.expect("ACK seq=3001 len=1000")        // the next hole, at once
	if st := s.c.Stats(); st.Timeouts != 0 || st.FastRetransmits != 1 || st.Retransmissions != 2 {
		t.Fatalf("stats %+v", st)
	}
	s.ack(remoteISS+1, localISS+6001, 10000) // full ACK: recovery ends
	if st := s.c.Stats(); st.CongestionWindow != st.SlowStartThresh || st.SlowStartThresh != 3000 {
		t.Fatalf("after recovery: cwnd %d ssthresh %d", st.CongestionWindow, st.SlowStartThresh)
	}
}

func TestNoFastRetransmitForACKsFromBeforeATimeout(t *testing.T) {
	s := toState(t, Established)
	s.c.Write(make([]byte, 3000), s.now)
	s.take()
	s.advanceToDeadline()
	s.expect("ACK seq=1001 len=1000")
	// Duplicate ACKs that do not cover more than "recover" (SND.MAX at the
	// timeout) must not start another fast retransmit (RFC 6582 step 2).
	for range 4 {
		s.ack(remoteISS+1, localISS+1, 10000)
	}
	s.expect()
}

func TestSlowStartAndCongestionAvoidance(t *testing.T) {
	r := NewNewReno(1000)
	if r.CongestionWindow() != 10000 {
		t.Fatalf("IW %d, want 10 MSS (RFC 6928)", r.CongestionWindow())
	}
	if InitialWindow(1460) != 14600 || InitialWindow(4000) != 14600 || InitialWindow(8000) != 16000 {
		t.Fatal("IW = min(10*MSS, max(2*MSS, 14600))")
	}
	r.OnAck(AckSample{Acked: 1000, InFlight: 10000})
	if r.CongestionWindow() != 11000 {
		t.Fatalf("slow start: %d", r.CongestionWindow())
	}
	r.OnTimeout(11000, epoch)
	if r.CongestionWindow() != 1000 || r.SlowStartThreshold() != 5500 {
		t.Fatalf("after RTO: cwnd %d ssthresh %d", r.CongestionWindow(), r.SlowStartThreshold())
	}
	for r.CongestionWindow() < r.SlowStartThreshold() {
		r.OnAck(AckSample{Acked: 1000, InFlight: r.CongestionWindow()})
	}
	w := r.CongestionWindow()
	for range w / 1000 {
		r.OnAck(AckSample{Acked: 1000, InFlight: w}) // one window's worth of ACKs
	}
	if r.CongestionWindow() != w+1000 {
		t.Fatalf("congestion avoidance: %d -> %d, want +1 MSS per window", w, r.CongestionWindow())
	}
}

// ---- Closing: Figures 12 and 13, half-close, timers ----

func TestFigure12NormalCloseActive(t *testing.T) {
	s := toState(t, Established)
	s.c.Close(s.now)
	s.expect("FIN|ACK seq=1001 ack=5001")
	s.expectState(FinWait1)
	s.ack(remoteISS+1, localISS+2, 8000)
	s.expectState(FinWait2)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 2, Flags: FlagFIN | FlagACK, Window: 8000}, "")
	s.expect("ACK seq=1002 ack=5002")
	s.expectState(TimeWait)
	if s.c.Err() != nil {
		t.Fatal(s.c.Err())
	}
}

func TestFigure12NormalClosePassive(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagFIN | FlagACK, Window: 8000}, "")
	s.expect("ACK seq=1001 ack=5002")
	s.expectState(CloseWait)
	if _, err := s.c.Read(make([]byte, 1), s.now); err != io.EOF {
		t.Fatalf("Read in CLOSE-WAIT: %v", err)
	}
	s.c.Write([]byte("bye"), s.now) // still allowed: the peer only half-closed
	s.expect("PSH|ACK seq=1001 len=3")
	s.c.Close(s.now)
	s.expect("FIN|ACK seq=1004 ack=5002")
	s.expectState(LastAck)
	s.ack(remoteISS+2, localISS+5, 8000)
	s.expectState(Closed)
	if s.c.Err() != nil {
		t.Fatal(s.c.Err())
	}
}

func TestFigure13SimultaneousClose(t *testing.T) {
	s := toState(t, Established)
	s.c.Close(s.now)
	s.expect("FIN|ACK seq=1001 ack=5001")
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagFIN | FlagACK, Window: 8000}, "")
	s.expect("ACK seq=1002 ack=5002")
	s.expectState(Closing)
	s.ack(remoteISS+2, localISS+2, 8000)
	s.expectState(TimeWait)
}

func TestFINThatAcknowledgesOurFIN(t *testing.T) {
	s := toState(t, FinWait1)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 2, Flags: FlagFIN | FlagACK, Window: 8000}, "")
	s.expect("ACK seq=1002 ack=5002")
	s.expectState(TimeWait)
	if got := s.log.seen[len(s.log.seen)-1]; got != (Transition{FinWait1, EventRecvFINACKOfFIN, TimeWait}) {
		t.Fatalf("transition %v", got)
	}
}

func TestCloseSendsFINAfterData(t *testing.T) {
	s := toState(t, Established)
	s.ack(remoteISS+1, localISS+1, 1500)
	s.c.Write(make([]byte, 3000), s.now)
	s.expect("ACK seq=1001 len=1000")
	s.c.Close(s.now)
	s.expect()
	s.ack(remoteISS+1, localISS+1001, 3000)
	s.expect("ACK seq=2001 len=1000", "FIN|PSH|ACK seq=3001 len=1000")
}

func TestHalfCloseKeepsReceiving(t *testing.T) {
	s := toState(t, Established)
	s.c.Shutdown(ShutdownWrite, s.now)
	s.expect("FIN|ACK seq=1001")
	s.ack(remoteISS+1, localISS+2, 8000)
	s.expectState(FinWait2)
	if _, ok := s.c.Deadline(); ok {
		t.Fatal("a half-closed connection must not time out in FIN-WAIT-2")
	}
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 2, Flags: FlagACK, Window: 8000}, "more")
	s.expect("ACK ack=5005")
	buf := make([]byte, 10)
	if n, _ := s.c.Read(buf, s.now); string(buf[:n]) != "more" {
		t.Fatalf("read %q", buf[:n])
	}
	if _, err := s.c.Write([]byte("x"), s.now); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write after shutdown: %v", err)
	}
}

func TestShutdownReadDiscards(t *testing.T) {
	s := toState(t, Established)
	s.c.Shutdown(ShutdownRead, s.now)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "ignored")
	s.expect("ACK ack=5008")
	if n, err := s.c.Read(make([]byte, 10), s.now); n != 0 || err != io.EOF {
		t.Fatalf("Read after ShutdownRead: %d %v", n, err)
	}
}

func TestFinWait2Timeout(t *testing.T) {
	s := toState(t, FinWait2)
	if d := s.advanceToDeadline(); d != 60*time.Second {
		t.Fatalf("FIN-WAIT-2 timeout after %v, want 60s", d)
	}
	s.expectState(Closed)
}

func TestTimeWaitLasts2MSL(t *testing.T) {
	s := toState(t, TimeWait)
	s.advance(60*time.Second - time.Nanosecond)
	s.expectState(TimeWait)
	// A retransmitted FIN is acknowledged and restarts the wait.
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 2, Flags: FlagFIN | FlagACK, Window: 8000}, "")
	s.expect("ACK seq=1002 ack=5002")
	s.advance(60*time.Second - time.Nanosecond)
	s.expectState(TimeWait)
	s.advance(time.Nanosecond)
	s.expectState(Closed)
	if s.c.Err() != nil {
		t.Fatal(s.c.Err())
	}
}

func TestCloseWithUnreadDataResets(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "unread")
	s.take()
	s.c.Close(s.now)
	s.expect("RST|ACK seq=1001 ack=5007")
	s.expectState(Closed)
}

func TestLingerZeroResets(t *testing.T) {
	s := toState(t, Established)
	s.c.cfg.LingerSet, s.c.cfg.Linger = true, 0
	s.c.Write([]byte("discarded"), s.now)
	s.take()
	s.c.Close(s.now)
	s.expect("RST|ACK seq=1010")
	s.expectState(Closed)
	if !errors.Is(s.c.Err(), syscall.ECONNABORTED) {
		t.Fatalf("err %v", s.c.Err())
	}
}

func TestDataAfterCloseResets(t *testing.T) {
	for _, st := range []State{FinWait1, FinWait2} {
		s := toState(t, st)
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 8000}, "late")
		s.expect("RST|ACK seq=1002 ack=5001")
		s.expectState(Closed)
	}
}

func TestCloseInEarlyStates(t *testing.T) {
	for _, st := range []State{Listen, SynSent} {
		s := toState(t, st)
		s.c.Close(s.now)
		s.expect()
		s.expectState(Closed)
	}
	s := toState(t, SynReceived)
	s.c.Close(s.now)
	s.expectState(FinWait1)
	s.expect()                           // FIN waits for the ACK of our SYN
	s.ack(remoteISS+1, localISS+1, 8000) // the handshake completes in FIN-WAIT-1
	s.expect("FIN|ACK seq=1001 ack=5001")
	s.ack(remoteISS+1, localISS+2, 8000)
	s.expectState(FinWait2)
}

func TestFINRetransmitTimeoutInClosingStates(t *testing.T) {
	for _, st := range []State{FinWait1, Closing, LastAck} {
		s := toState(t, st)
		s.c.cfg.MaxRetries = 2
		s.advanceToDeadline()
		s.expect("FIN|ACK seq=1001")
		s.advanceToDeadline()
		s.expect("FIN|ACK seq=1001")
		s.advanceToDeadline()
		s.expectState(Closed)
		if !errors.Is(s.c.Err(), ErrTimeout) {
			t.Fatalf("%v: err %v", st, s.c.Err())
		}
	}
	s := toState(t, CloseWait)
	s.c.cfg.MaxRetries = 0
	s.c.Write([]byte("x"), s.now)
	s.advanceToDeadline()
	s.expectState(Closed)
}

// ---- Keepalive (RFC 1122 4.2.3.6) ----

func TestKeepAlive(t *testing.T) {
	for _, st := range []State{Established, CloseWait} {
		cfg := testConfig()
		cfg.KeepAlive, cfg.KeepAliveIdle, cfg.KeepAliveInterval, cfg.KeepAliveCount = true, 10*time.Second, time.Second, 3
		s := establishedActive(t, cfg)
		if st == CloseWait {
			s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagFIN | FlagACK, Window: 8000}, "")
			s.take()
		}
		rcvNxt := s.c.rcvNxt
		if d := s.advanceToDeadline(); d != 10*time.Second {
			t.Fatalf("first probe after %v, want the 10s idle time", d)
		}
		probe := s.expect("ACK seq=1000") // SND.NXT - 1
		if probe[0].Ack != rcvNxt {
			t.Fatalf("probe %v", probe[0])
		}
		s.ack(rcvNxt, localISS+1, 8000) // answered: back to idle
		if d := s.advanceToDeadline(); d != 10*time.Second {
			t.Fatalf("probe after an answer after %v", d)
		}
		s.expect("ACK seq=1000")
		for range 3 {
			if d := s.advanceToDeadline(); d != time.Second && s.c.State() != Closed {
				t.Fatalf("probe interval %v", d)
			}
		}
		s.expectState(Closed)
		if !errors.Is(s.c.Err(), ErrTimeout) {
			t.Fatalf("err %v", s.c.Err())
		}
	}
}

// ---- RST in every state (RFC 9293 3.10.7) ----

func TestRSTInEachState(t *testing.T) {
	tests := []struct {
		state   State
		want    State
		wantErr error
	}{
		{SynReceived, Listen, nil}, // opened by Listen
		{Established, Closed, ErrConnectionReset},
		{FinWait1, Closed, ErrConnectionReset},
		{FinWait2, Closed, ErrConnectionReset},
		{CloseWait, Closed, ErrConnectionReset},
		{Closing, Closed, ErrConnectionReset},
		{LastAck, Closed, ErrConnectionReset},
		{TimeWait, Closed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.state.String(), func(t *testing.T) {
			s := toState(t, tt.state)
			next := s.c.rcvNxt
			// Out of the window: ignored.
			s.send(HeaderFields{Seq: next + 100000, Flags: FlagRST}, "")
			s.expectState(tt.state)
			s.expect()
			// In the window (here exactly RCV.NXT): accepted.
			s.send(HeaderFields{Seq: next, Flags: FlagRST}, "")
			s.expect()
			s.expectState(tt.want)
			if !errors.Is(s.c.Err(), tt.wantErr) && !(tt.wantErr == nil && s.c.Err() == nil) {
				t.Fatalf("err %v, want %v", s.c.Err(), tt.wantErr)
			}
		})
	}
	// A listener's child (AcceptSyn) closes instead of returning to LISTEN.
	s := newStepper(t, testConfig())
	s.c.AcceptSyn(Segment{HeaderFields: HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 100}}, s.now)
	s.send(HeaderFields{Seq: remoteISS + 1, Flags: FlagRST}, "")
	s.expectState(Closed)
}

func TestRSTInClosedAndListen(t *testing.T) {
	s := toState(t, Closed)
	s.send(HeaderFields{Seq: 7, Flags: FlagRST}, "")
	s.expect()
	s.send(HeaderFields{Seq: 7, Flags: FlagSYN}, "ab")
	s.expect("RST|ACK seq=0 ack=10")
	s.send(HeaderFields{Seq: 7, Ack: 99, Flags: FlagACK}, "")
	s.expect("RST seq=99")
}

func TestAbortInEachState(t *testing.T) {
	sendsRST := map[State]bool{SynReceived: true, Established: true, FinWait1: true, FinWait2: true, CloseWait: true}
	for st := Listen; st <= TimeWait; st++ {
		s := toState(t, st)
		s.c.Abort(s.now)
		got := s.take()
		if sendsRST[st] != (len(got) == 1 && got[0].Flags.Has(FlagRST)) {
			t.Fatalf("%v: Abort sent %v", st, got)
		}
		s.expectState(Closed)
		if !errors.Is(s.c.Err(), syscall.ECONNABORTED) {
			t.Fatalf("%v: err %v", st, s.c.Err())
		}
		if _, err := s.c.Read(make([]byte, 1), s.now); !errors.Is(err, ErrConnectionAborted) {
			t.Fatalf("%v: Read after Abort: %v", st, err)
		}
		if _, err := s.c.Write([]byte("x"), s.now); !errors.Is(err, ErrConnectionAborted) {
			t.Fatalf("%v: Write after Abort: %v", st, err)
		}
	}
}

// ---- Helpers for the stack ----

func TestRSTForUnexpected(t *testing.T) {
	seg := Segment{HeaderFields: HeaderFields{SrcPort: 1, DstPort: 2, Seq: 100, Flags: FlagSYN}, Payload: []byte("abc")}
	f, ok := RSTForUnexpected(&seg)
	if !ok || f.Flags != FlagRST|FlagACK || f.Seq != 0 || f.Ack != 104 || f.SrcPort != 2 || f.DstPort != 1 {
		t.Fatalf("reset for a SYN: %+v", f)
	}
	seg.Flags = FlagACK | FlagFIN
	seg.Ack = 777
	if f, ok = RSTForUnexpected(&seg); !ok || f.Flags != FlagRST || f.Seq != 777 {
		t.Fatalf("reset for an ACK: %+v", f)
	}
	seg.Flags = FlagRST | FlagACK
	if _, ok = RSTForUnexpected(&seg); ok {
		t.Fatal("a RST must not be answered")
	}
}

func TestISNGenerator(t *testing.T) {
	g := NewISNGeneratorWithKey([32]byte{1})
	id2 := testID
	id2.RemotePort++
	a, b := g.ISN(testID, epoch), g.ISN(id2, epoch)
	if a == b {
		t.Fatal("different four-tuples should get unrelated ISNs")
	}
	if later := g.ISN(testID, epoch.Add(time.Second)); later.Sub(a) != 250000 {
		t.Fatalf("ISN advanced %d in 1s, want 250000 (4us ticks)", later.Sub(a))
	}
	if NewISNGenerator().ISN(testID, epoch) == NewISNGenerator().ISN(testID, epoch) {
		t.Fatal("random keys should differ")
	}
	if allocs := testing.AllocsPerRun(100, func() { g.ISN(testID, epoch) }); allocs != 0 {
		t.Fatalf("ISN allocates %v", allocs)
	}
}

func TestStateAndEventNames(t *testing.T) {
	if SynSent.String() != "SYN-SENT" || TimeWait.String() != "TIME-WAIT" || State(99).String() != "State(?)" {
		t.Fatal("state names")
	}
	for _, tr := range Transitions {
		if tr.Event.String() == "Event(?)" {
			t.Fatalf("unnamed event in %v", tr)
		}
	}
}

// ---- Options changed on an open connection ----

func TestSetNoDelayFlushes(t *testing.T) {
	s := toState(t, Established)
	s.c.Write([]byte("a"), s.now)
	s.c.Write([]byte("b"), s.now)
	s.expect("PSH|ACK seq=1001 len=1") // "b" held by Nagle
	s.c.SetNoDelay(true, s.now)
	s.expect("PSH|ACK seq=1002 len=1")
	if !s.c.Config().NoDelay {
		t.Fatal("Config does not show the change")
	}
}

func TestSetKeepAlive(t *testing.T) {
	s := toState(t, Established)
	if _, ok := s.c.Deadline(); ok {
		t.Fatal("no timer should run on an idle connection without keepalive")
	}
	s.c.SetKeepAlive(true, 5*time.Second, time.Second, 2, s.now)
	if d := s.advanceToDeadline(); d != 5*time.Second {
		t.Fatalf("first probe after %v", d)
	}
	s.expect("ACK seq=1000")
	s.c.SetKeepAlive(false, 0, 0, 0, s.now)
	if _, ok := s.c.Deadline(); ok {
		t.Fatal("keepalive still armed after turning it off")
	}
	if cfg := s.c.Config(); cfg.KeepAliveIdle != 5*time.Second || cfg.KeepAliveCount != 2 {
		t.Fatalf("config %+v", cfg)
	}
}

func TestSetLinger(t *testing.T) {
	s := toState(t, Established)
	s.c.SetLinger(0)
	s.c.Close(s.now)
	s.expect("RST|ACK seq=1001")
	s = toState(t, Established)
	s.c.SetLinger(0)
	s.c.SetLinger(-1)
	s.c.Close(s.now)
	s.expect("FIN|ACK seq=1001")
}

func TestWindowClosedWithDataInFlightDoesNotTimeOut(t *testing.T) {
	s := toState(t, Established)
	s.c.cfg.MaxRetries = 2
	s.c.Write(make([]byte, 1000), s.now)
	s.expect("PSH|ACK seq=1001 len=1000")
	s.ack(remoteISS+1, localISS+1, 0) // the receiver shrinks its window to zero
	for range 10 {
		s.advanceToDeadline()
		s.expect("PSH|ACK seq=1001 len=1000") // the retransmission probes the window
		s.ack(remoteISS+1, localISS+1, 0)     // answered: still zero, but alive
	}
	s.expectState(Established)
	s.ack(remoteISS+1, localISS+1001, 5000)
	if st := s.c.Stats(); st.BytesInFlight != 0 || st.SendWindow != 5000 {
		t.Fatalf("after the window opens: %+v", st)
	}
	// A silent peer still times out.
	s.c.Write(make([]byte, 10), s.now)
	for s.c.State() == Established {
		s.advanceToDeadline()
	}
	if !errors.Is(s.c.Err(), ErrTimeout) {
		t.Fatalf("err %v", s.c.Err())
	}
}

func TestSegmentationOffloadSuperSegments(t *testing.T) {
	cfg := testConfig()
	cfg.GSOMaxSize = 64000
	s := establishedActive(t, cfg) // peer window 10000, cwnd 10000
	if s.c.SendMSS() != 1000 {
		t.Fatalf("SendMSS %d", s.c.SendMSS())
	}
	s.c.Write(make([]byte, 12500), s.now)
	s.expect("ACK seq=1001 len=10000") // ten MSS in one segment for the link to cut
	s.ack(remoteISS+1, localISS+1+4500, 10000)
	// Usable 4500, 2500 bytes left: Nagle holds the 500-byte tail while
	// data is in flight, so only the full-sized pieces go.
	s.expect("ACK seq=11001 len=2000")
	// A retransmission is one MSS.
	s.advanceToDeadline()
	s.expect("ACK seq=5501 len=1000")
}

func TestGoBackNResendsFIN(t *testing.T) {
	s := toState(t, Established)
	s.c.Write(make([]byte, 2000), s.now)
	s.c.Close(s.now)
	s.expect("ACK seq=1001 len=1000", "PSH|ACK seq=2001 len=1000", "FIN|ACK seq=3001 len=0")
	s.advanceToDeadline() // all lost: resend from SND.UNA, one segment (cwnd 1 MSS)
	s.expect("ACK seq=1001 len=1000")
	s.ack(remoteISS+1, localISS+1001, 10000)
	s.expect("FIN|PSH|ACK seq=2001 len=1000") // the rest goes again, FIN included
	s.ack(remoteISS+1, localISS+2002, 10000)
	s.expectState(FinWait2)
}

// discard is an Output that keeps only the last segment's header.
type discard struct{ last HeaderFields }

func (d *discard) SendSegment(_ FourTuple, f HeaderFields, _ Payload) { d.last = f }

// TestSequenceWrapAround sends a little over 4 GiB so that SND.UNA passes
// ISS+2^31 (where "SND.UNA > ISS" flips) and ISS+2^32 (where it equals ISS
// again): data must keep flowing and fast retransmit keep working.
func TestSequenceWrapAround(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 4 GiB through the send ring")
	}
	cfg := testConfig()
	cfg.SendBufferSize = 1 << 20
	cfg.GSOMaxSize = 60000
	out := &discard{}
	c := NewConn(cfg, testID, localISS, out)
	now := epoch
	c.Connect(now)
	c.HandleSegment(Segment{HeaderFields: HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK,
		Window: 65535, Options: Options{HasMSS: true, MSS: 1000, HasWindowScale: true, WindowScale: 4}}}, now)
	chunk := make([]byte, 1<<20)
	total := uint64(0)
	for total < 1<<32+3<<20 {
		n, err := c.Write(chunk, now)
		if err != nil {
			t.Fatal(err)
		}
		total += uint64(n)
		// The peer acknowledges everything sent so far with a full window.
		for c.sndUna != c.sndNxt || c.sendBuf.len() > 0 {
			ack := c.sndNxt
			c.HandleSegment(Segment{HeaderFields: HeaderFields{Seq: remoteISS + 1, Ack: ack, Flags: FlagACK, Window: 65535}}, now)
			if c.sndUna != ack {
				t.Fatalf("after %d bytes: ACK %d not taken (SND.UNA %d)", total, ack, c.sndUna)
			}
			if c.sndNxt == c.sndUna && c.sendBuf.len() > 0 {
				t.Fatalf("after %d bytes: stalled with %d bytes buffered", total, c.sendBuf.len())
			}
		}
	}
	// Fast retransmit still works past the wrap.
	c.Write(make([]byte, 5000), now)
	una := c.sndUna
	for range 3 {
		c.HandleSegment(Segment{HeaderFields: HeaderFields{Seq: remoteISS + 1, Ack: una, Flags: FlagACK, Window: 65535}}, now)
	}
	if out.last.Seq != una || c.Stats().FastRetransmits != 1 {
		t.Fatalf("no fast retransmit after the wrap: last %v", out.last)
	}
}

// ---- Path MTU (pmtu.go) ----

func TestSetPathMTU(t *testing.T) {
	s := toState(t, Established)
	s.c.Write(make([]byte, 3000), s.now)
	s.take() // three 1000-byte segments, dropped by a 576-byte hop
	if s.c.SetPathMTU(576, localISS+100000, s.now) {
		t.Fatal("a message quoting data not in flight must be ignored (RFC 5927 4.1)")
	}
	if s.c.SetPathMTU(1500, localISS+1, s.now) {
		t.Fatal("a larger MTU must be ignored (RFC 1191 6.3)")
	}
	s.expect()
	if !s.c.SetPathMTU(576, localISS+1001, s.now) {
		t.Fatal("a valid message was refused")
	}
	// Resent from SND.UNA in 536-byte segments; Nagle holds the short tail.
	s.expect("ACK seq=1001 len=536", "ACK seq=1537 len=536", "ACK seq=2073 len=536",
		"ACK seq=2609 len=536", "ACK seq=3145 len=536")
	if s.c.SendMSS() != 536 {
		t.Fatalf("SendMSS %d", s.c.SendMSS())
	}
	// A forged tiny MTU lowers the MSS only to the floor (RFC 5927 7.2).
	if !s.c.SetPathMTU(100, localISS+1001, s.now) || s.c.SendMSS() != MinPathMSS {
		t.Fatalf("SendMSS %d after a tiny MTU, want the floor %d", s.c.SendMSS(), MinPathMSS)
	}
	if s.c.SetPathMTU(100, localISS+1001, s.now) {
		t.Fatal("nothing left to lower, yet the message was taken")
	}
}
