package tcp

import (
	"testing"
	"time"
)

// Step tests for SACK (RFC 2018, 2883, 6675), timestamps and PAWS (RFC
// 7323) and the blind-attack defences of RFC 5961.

func sackConfig() Config {
	cfg := testConfig()
	cfg.SACK = true
	return cfg
}

// establishedWith opens actively with cfg, the peer's SYN+ACK carrying
// opts (MSS 1000 is added), and returns the stepper in ESTABLISHED.
func establishedWith(t *testing.T, cfg Config, opts Options) *stepper {
	t.Helper()
	s := newStepper(t, cfg)
	if err := s.c.Connect(s.now); err != nil {
		t.Fatal(err)
	}
	s.take()
	opts.HasMSS, opts.MSS = true, 1000
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 60000, Options: opts}, "")
	s.expectState(Established)
	s.take()
	return s
}

func TestSACKPermittedNegotiation(t *testing.T) {
	s := newStepper(t, sackConfig())
	s.c.Connect(s.now)
	if syn := s.take()[0]; !syn.Options.SACKPermitted {
		t.Fatal("our SYN does not offer SACK")
	}
	s = establishedWith(t, sackConfig(), Options{SACKPermitted: true})
	if !s.c.Stats().SACK {
		t.Fatal("SACK not in use though both SYNs carried SACK-permitted")
	}
	s = establishedWith(t, sackConfig(), Options{})
	if s.c.Stats().SACK {
		t.Fatal("SACK in use though the peer did not permit it")
	}

	// Passive: the SYN+ACK carries SACK-permitted only if the SYN did.
	for _, permitted := range []bool{false, true} {
		s := newStepper(t, sackConfig())
		s.c.Listen()
		s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 8000, Options: Options{SACKPermitted: permitted}}, "")
		if synAck := s.take()[0]; synAck.Options.SACKPermitted != permitted {
			t.Fatalf("peer permitted %v: SYN+ACK has SACK-permitted %v", permitted, synAck.Options.SACKPermitted)
		}
	}
}

func blocks(seg sentSegment) []SACKBlock {
	return seg.Options.SACKBlocks[:seg.Options.SACKBlockCount]
}

func TestSACKBlocksMostRecentFirst(t *testing.T) {
	s := establishedWith(t, sackConfig(), Options{SACKPermitted: true})
	data := string(make([]byte, 100))
	// 5001..5101 is lost; three later segments arrive, not in order.
	s.send(HeaderFields{Seq: remoteISS + 201, Ack: localISS + 1, Flags: FlagACK, Window: 60000}, data)
	got := s.expect("ACK ack=5001")
	if b := blocks(got[0]); len(b) != 1 || b[0] != (SACKBlock{remoteISS + 201, remoteISS + 301}) {
		t.Fatalf("first SACK %v", b)
	}
	s.send(HeaderFields{Seq: remoteISS + 401, Ack: localISS + 1, Flags: FlagACK, Window: 60000}, data)
	got = s.expect("ACK ack=5001")
	want := []SACKBlock{{remoteISS + 401, remoteISS + 501}, {remoteISS + 201, remoteISS + 301}}
	if b := blocks(got[0]); len(b) != 2 || b[0] != want[0] || b[1] != want[1] {
		t.Fatalf("SACK %v, want %v (the block of the segment that triggered the ACK first)", b, want)
	}
	// A segment joining the first block: the merged block goes first.
	s.send(HeaderFields{Seq: remoteISS + 301, Ack: localISS + 1, Flags: FlagACK, Window: 60000}, data)
	got = s.expect("ACK ack=5001")
	if b := blocks(got[0]); len(b) != 1 || b[0] != (SACKBlock{remoteISS + 201, remoteISS + 501}) {
		t.Fatalf("merged SACK %v", b)
	}
	// The hole is filled: a plain cumulative ACK, no blocks.
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 60000}, string(make([]byte, 200)))
	got = s.expect("ACK ack=5501")
	if n := got[0].Options.SACKBlockCount; n != 0 {
		t.Fatalf("%d SACK blocks after the hole was filled", n)
	}
}

func TestSACKBlocksLimitedWithTimestamps(t *testing.T) {
	cfg := sackConfig()
	cfg.Timestamps = true
	s := establishedWith(t, cfg, Options{SACKPermitted: true, HasTimestamps: true, TSVal: 1})
	for i := range 5 {
		s.send(HeaderFields{Seq: remoteISS + 1 + Seq(200*i+100), Ack: localISS + 1, Flags: FlagACK, Window: 60000,
			Options: Options{HasTimestamps: true, TSVal: 2}}, "x")
	}
	got := s.take()
	last := got[len(got)-1]
	if last.Options.SACKBlockCount != 3 || !last.Options.HasTimestamps || last.Options.EncodedLen() > MaxOptionsLen {
		t.Fatalf("options %+v: want timestamps and 3 SACK blocks in 40 bytes", last.Options)
	}
}

func TestDSACKReportsDuplicates(t *testing.T) {
	s := establishedWith(t, sackConfig(), Options{SACKPermitted: true})
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 60000}, "0123456789")
	s.take()
	// The same segment again: below RCV.NXT, a D-SACK block (RFC 2883 4.1).
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 60000}, "0123456789")
	got := s.expect("ACK ack=5011")
	if b := blocks(got[0]); len(b) != 1 || b[0] != (SACKBlock{remoteISS + 1, remoteISS + 11}) {
		t.Fatalf("D-SACK %v", b)
	}
	// A duplicate out-of-order segment: D-SACK first, then its SACK block
	// (RFC 2883 section 4.2).
	s.send(HeaderFields{Seq: remoteISS + 21, Ack: localISS + 1, Flags: FlagACK, Window: 60000}, "abc")
	s.take()
	s.send(HeaderFields{Seq: remoteISS + 21, Ack: localISS + 1, Flags: FlagACK, Window: 60000}, "abc")
	got = s.expect("ACK ack=5011")
	want := SACKBlock{remoteISS + 21, remoteISS + 24}
	if b := blocks(got[0]); len(b) != 2 || b[0] != want || b[1] != want {
		t.Fatalf("D-SACK of out-of-order duplicate %v", b)
	}
	if st := s.c.Stats(); st.DSACKsSent != 2 {
		t.Fatalf("DSACKsSent %d", st.DSACKsSent)
	}
}

// sackAck sends an ACK from the peer acknowledging ack with SACK blocks.
func (s *stepper) sackAck(ack Seq, b ...SACKBlock) {
	s.t.Helper()
	o := Options{SACKBlockCount: len(b)}
	copy(o.SACKBlocks[:], b)
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: ack, Flags: FlagACK, Window: 60000, Options: o}, "")
}

func retransmittedSeqs(segs []sentSegment, below Seq) []Seq {
	var r []Seq
	for _, g := range segs {
		if len(g.Payload) > 0 && g.Seq.LessThan(below) {
			r = append(r, g.Seq)
		}
	}
	return r
}

// TestSACKRecoveryResendsOnlyHoles loses segments 1001 and 4001 of eight:
// the SACK scoreboard finds both, and nothing the peer SACKed is resent
// (RFC 6675).
func TestSACKRecoveryResendsOnlyHoles(t *testing.T) {
	cfg := sackConfig()
	cfg.RACK = false // RFC 6675's DupThresh decides (rack_test.go has RACK)
	s := establishedWith(t, cfg, Options{SACKPermitted: true})
	s.c.Write(make([]byte, 8000), s.now)
	if segs := s.take(); len(segs) != 8 {
		t.Fatalf("sent %d segments", len(segs))
	}
	top := localISS + 8001
	s.sackAck(localISS+1, SACKBlock{localISS + 1001, localISS + 2001})
	s.sackAck(localISS+1, SACKBlock{localISS + 1001, localISS + 3001})
	if r := retransmittedSeqs(s.take(), top); len(r) != 0 {
		t.Fatalf("resent %v after two duplicate ACKs", r)
	}
	s.sackAck(localISS+1, SACKBlock{localISS + 4001, localISS + 5001}, SACKBlock{localISS + 1001, localISS + 3001})
	got := retransmittedSeqs(s.take(), top)
	if len(got) != 1 || got[0] != localISS+1 {
		t.Fatalf("on the third duplicate ACK resent %v, want only 1001", got)
	}
	if st := s.c.Stats(); !st.InRecovery || st.FastRetransmits != 1 {
		t.Fatalf("not in recovery: %+v", st)
	}
	// More SACKed above 3001..4001: it is lost now (IsLost: more than
	// 2*SMSS SACKed above it) and goes next.
	s.sackAck(localISS+1, SACKBlock{localISS + 4001, localISS + 7001}, SACKBlock{localISS + 1001, localISS + 3001})
	got = retransmittedSeqs(s.take(), top)
	if len(got) != 1 || got[0] != localISS+3001 {
		t.Fatalf("resent %v, want 3001", got)
	}
	s.sackAck(localISS+3001, SACKBlock{localISS + 4001, localISS + 8001})
	s.take()
	s.sackAck(localISS + 8001)
	if st := s.c.Stats(); st.InRecovery || st.Retransmissions != 2 {
		t.Fatalf("after the full ACK: %+v", st)
	}
}

// TestSACKTimeoutSkipsSACKedData: after a retransmission timeout every
// hole is resent as the window opens, but not the data the peer SACKed.
func TestSACKTimeoutSkipsSACKedData(t *testing.T) {
	cfg := sackConfig()
	cfg.RACK = false // no tail loss probe before the timeout
	s := establishedWith(t, cfg, Options{SACKPermitted: true})
	s.c.Write(make([]byte, 5000), s.now)
	s.take()
	s.sackAck(localISS+1, SACKBlock{localISS + 2001, localISS + 3001})
	s.take()
	s.advanceToDeadline() // the RTO
	got := s.take()
	if len(got) != 1 || got[0].Seq != localISS+1 {
		t.Fatalf("after the timeout sent %v, want 1001 only", got)
	}
	var resent []Seq
	for ack := localISS + 1001; ack.LessThan(localISS + 5001); {
		s.sackAck(ack, SACKBlock{localISS + 2001, localISS + 3001})
		segs := s.take()
		if len(segs) == 0 {
			t.Fatalf("nothing sent after ACK %d", ack)
		}
		for _, g := range segs {
			resent = append(resent, g.Seq)
		}
		ack = segs[len(segs)-1].Seq.Add(uint32(len(segs[len(segs)-1].Payload)))
		if ack == localISS+2001 {
			ack = localISS + 3001 // the peer holds the SACKed segment
		}
	}
	for _, q := range resent {
		if q == localISS+2001 {
			t.Fatalf("SACKed segment 2001 resent after the timeout: %v", resent)
		}
	}
	if st := s.c.Stats(); st.Timeouts != 1 {
		t.Fatalf("timeouts %d", st.Timeouts)
	}
}

func TestDSACKReceivedCountsSpuriousRetransmission(t *testing.T) {
	s := establishedWith(t, sackConfig(), Options{SACKPermitted: true})
	s.c.Write(make([]byte, 2000), s.now)
	s.take()
	s.sackAck(localISS + 2001)
	s.sackAck(localISS+2001, SACKBlock{localISS + 1, localISS + 1001}) // below the ACK: D-SACK
	if st := s.c.Stats(); st.DSACKsReceived != 1 || st.SACKedBytes != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSACKBlocksOutsideWhatWasSentIgnored(t *testing.T) {
	s := establishedWith(t, sackConfig(), Options{SACKPermitted: true})
	s.c.Write(make([]byte, 3000), s.now)
	s.take()
	s.sackAck(localISS+1, SACKBlock{localISS + 2001, localISS + 9001}) // beyond SND.MAX
	s.sackAck(localISS+1, SACKBlock{localISS + 5, localISS + 2})       // reversed
	if st := s.c.Stats(); st.SACKedBytes != 0 || st.SACKBlocksReceived != 0 {
		t.Fatalf("invalid blocks taken: %+v", st)
	}
}

// ---- Timestamps and PAWS (RFC 7323) ----

func tsConfig() Config {
	cfg := testConfig()
	cfg.Timestamps = true
	return cfg
}

func TestTimestampsNegotiated(t *testing.T) {
	s := newStepper(t, tsConfig())
	s.c.Connect(s.now)
	syn := s.take()[0]
	if !syn.Options.HasTimestamps || syn.Options.TSEcr != 0 || syn.Options.TSVal != s.c.tsClock(s.now) {
		t.Fatalf("SYN timestamps %+v", syn.Options)
	}
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 8000,
		Options: Options{HasMSS: true, MSS: 1000, HasTimestamps: true, TSVal: 777, TSEcr: syn.Options.TSVal}}, "")
	ack := s.take()[0]
	if !ack.Options.HasTimestamps || ack.Options.TSEcr != 777 {
		t.Fatalf("ACK timestamps %+v", ack.Options)
	}
	st := s.c.Stats()
	if !st.Timestamps || st.SendMSS != 1000-12 {
		t.Fatalf("timestamps %v, send MSS %d (the option takes 12 bytes of each segment)", st.Timestamps, st.SendMSS)
	}
}

func TestTimestampsPeerWithoutThem(t *testing.T) {
	// Active: the SYN+ACK has none; the handshake completes without.
	s := establishedWith(t, tsConfig(), Options{})
	s.c.Write([]byte("hi"), s.now)
	if seg := s.take()[0]; seg.Options.HasTimestamps || s.c.Stats().Timestamps || s.c.Stats().SendMSS != 1000 {
		t.Fatalf("timestamps used with a peer that omitted them: %+v", seg.Options)
	}
	// Passive: a SYN without them gets a SYN+ACK without them.
	s = newStepper(t, tsConfig())
	s.c.Listen()
	s.send(HeaderFields{Seq: remoteISS, Flags: FlagSYN, Window: 8000}, "")
	if synAck := s.take()[0]; synAck.Options.HasTimestamps {
		t.Fatal("SYN+ACK carries timestamps the SYN did not offer")
	}
	s.ack(remoteISS+1, localISS+1, 8000)
	s.expectState(Established)
}

func establishedTS(t *testing.T) *stepper {
	return establishedWith(t, tsConfig(), Options{HasTimestamps: true, TSVal: 100})
}

func TestTimestampRTTFromEveryACK(t *testing.T) {
	s := newStepper(t, tsConfig())
	s.c.Connect(s.now)
	syn := s.take()[0]
	s.now = s.now.Add(50 * time.Millisecond)
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 60000,
		Options: Options{HasMSS: true, MSS: 1000, HasTimestamps: true, TSVal: 100, TSEcr: syn.Options.TSVal}}, "")
	s.take()
	s.c.Write(make([]byte, 3000), s.now)
	segs := s.take()
	s.now = s.now.Add(50 * time.Millisecond)
	for _, g := range segs {
		end := g.Seq.Add(uint32(len(g.Payload)))
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: end, Flags: FlagACK, Window: 60000,
			Options: Options{HasTimestamps: true, TSVal: 101, TSEcr: g.Options.TSVal}}, "")
	}
	st := s.c.Stats()
	if st.SRTT != 50*time.Millisecond || st.MinRTT != 50*time.Millisecond {
		t.Fatalf("SRTT %v min %v, want 50ms from the echoed timestamps", st.SRTT, st.MinRTT)
	}
}

func TestPAWSDropsOldSegments(t *testing.T) {
	s := establishedTS(t)
	ts := func(v uint32) Options { return Options{HasTimestamps: true, TSVal: v} }
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 60000, Options: ts(200)}, "new")
	s.expect("ACK ack=5004")
	// An old duplicate whose sequence numbers look new (after a wrap)
	// carries an old timestamp: dropped, answered with an ACK (RFC 7323
	// 5.3 R1).
	s.send(HeaderFields{Seq: remoteISS + 4, Ack: localISS + 1, Flags: FlagACK, Window: 60000, Options: ts(150)}, "old")
	s.expect("ACK ack=5004")
	if st := s.c.Stats(); st.PAWSRejected != 1 || st.ReceiveBuffered != 3 {
		t.Fatalf("PAWS: %+v", st)
	}
	// A RST is not subject to PAWS.
	s.send(HeaderFields{Seq: remoteISS + 4, Flags: FlagRST, Options: ts(150)}, "")
	s.expectState(Closed)
}

func TestPAWSIdleFor24Days(t *testing.T) {
	s := establishedTS(t)
	s.now = s.now.Add(25 * 24 * time.Hour) // RFC 7323 5.5: TS.Recent no longer valid
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 60000,
		Options: Options{HasTimestamps: true, TSVal: 5}}, "late")
	if st := s.c.Stats(); st.PAWSRejected != 0 || st.ReceiveBuffered != 4 {
		t.Fatalf("after 25 idle days: %+v", st)
	}
	if got := s.take(); got[0].Options.TSEcr != 5 {
		t.Fatalf("TS.Recent not taken from the segment: echo %d", got[0].Options.TSEcr)
	}
}

func TestTSRecentOnlyFromSegmentsAtLastACKSent(t *testing.T) {
	s := establishedTS(t)
	// Out of order, beyond Last.ACK.sent: its TSval is not echoed
	// (RFC 7323 4.3 case C), the earlier one is.
	s.send(HeaderFields{Seq: remoteISS + 11, Ack: localISS + 1, Flags: FlagACK, Window: 60000,
		Options: Options{HasTimestamps: true, TSVal: 300}}, "later")
	if got := s.take(); got[0].Options.TSEcr != 100 {
		t.Fatalf("echo %d after an out-of-order segment, want 100", got[0].Options.TSEcr)
	}
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: localISS + 1, Flags: FlagACK, Window: 60000,
		Options: Options{HasTimestamps: true, TSVal: 310}}, "0123456789")
	if got := s.take(); got[0].Options.TSEcr != 310 {
		t.Fatalf("echo %d after the hole was filled, want 310", got[0].Options.TSEcr)
	}
}

// ---- RFC 5961 ----

func TestRFC5961InWindowRSTGetsChallengeACK(t *testing.T) {
	s := toState(t, Established)
	s.send(HeaderFields{Seq: remoteISS + 100, Flags: FlagRST}, "")
	s.expectState(Established)
	s.expect("ACK seq=1001 ack=5001")
	s.send(HeaderFields{Seq: remoteISS + 70000, Flags: FlagRST}, "") // outside the window: silence
	s.expect()
	if st := s.c.Stats(); st.ChallengeACKs != 1 || st.RSTsIgnored != 2 {
		t.Fatalf("stats %+v", st)
	}
	s.send(HeaderFields{Seq: remoteISS + 1, Flags: FlagRST}, "") // exactly RCV.NXT
	s.expectState(Closed)
}

func TestRFC5961DisabledAcceptsInWindowRST(t *testing.T) {
	cfg := testConfig()
	cfg.RSTInWindowResets = true
	s := establishedWith(t, cfg, Options{})
	s.send(HeaderFields{Seq: remoteISS + 100, Flags: FlagRST}, "")
	s.expectState(Closed)
}

func TestRFC5961SYNInSynchronizedStatesGetsChallengeACK(t *testing.T) {
	for _, st := range []State{Established, FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait} {
		s := toState(t, st)
		s.send(HeaderFields{Seq: remoteISS + 777, Flags: FlagSYN, Window: 1000}, "")
		s.expectState(st)
		if got := s.take(); len(got) != 1 || got[0].Flags != FlagACK {
			t.Fatalf("%v: answered a SYN with %v, want a challenge ACK", st, got)
		}
	}
}

func TestRFC5961OldACKDropped(t *testing.T) {
	s := toState(t, Established)
	// SND.UNA = 1001 and the peer's largest window was 10000: an ACK
	// field far below it is not acceptable, and the data is not taken.
	s.send(HeaderFields{Seq: remoteISS + 1, Ack: (localISS + 1).Add(^uint32(20000 - 1)), Flags: FlagACK, Window: 10000}, "blind")
	s.expect("ACK seq=1001 ack=5001")
	if st := s.c.Stats(); st.ReceiveBuffered != 0 {
		t.Fatal("data with an unacceptable ACK was delivered")
	}
}

func TestChallengeACKRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.ChallengeACKLimit = 3
	s := establishedWith(t, cfg, Options{})
	for range 5 {
		s.send(HeaderFields{Seq: remoteISS + 100, Flags: FlagRST}, "")
	}
	if n := len(s.take()); n != 3 {
		t.Fatalf("%d challenge ACKs, want the limit of 3", n)
	}
	s.now = s.now.Add(time.Second)
	s.send(HeaderFields{Seq: remoteISS + 100, Flags: FlagRST}, "")
	if n := len(s.take()); n != 1 {
		t.Fatalf("%d challenge ACKs a second later, want 1", n)
	}
	if st := s.c.Stats(); st.ChallengeACKs != 4 || st.ChallengeACKsLimited != 2 {
		t.Fatalf("stats %+v", st)
	}
}
