package tcp

import (
	"testing"
	"time"
)

// Step tests for RACK-TLP (RFC 8985). The handshake takes 10 ms, so the
// RTT estimate (and RACK's min_RTT) is 10 ms.

const rackRTT = 10 * time.Millisecond

func establishedRACK(t *testing.T) *stepper {
	t.Helper()
	s := newStepper(t, sackConfig())
	s.c.Connect(s.now)
	s.take()
	s.now = s.now.Add(rackRTT)
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 60000,
		Options: Options{HasMSS: true, MSS: 1000, SACKPermitted: true}}, "")
	s.expectState(Established)
	s.take()
	if st := s.c.Stats(); st.SRTT != rackRTT || st.MinRTT != rackRTT {
		t.Fatalf("RTT after the handshake: %+v", st)
	}
	return s
}

func resent(segs []sentSegment, seq Seq) int {
	n := 0
	for _, g := range segs {
		if g.Seq == seq && len(g.Payload) > 0 {
			n++
		}
	}
	return n
}

// TestRACKReorderingWindow: one SACKed segment above a hole is not enough
// at once; the hole is lost when RACK.rtt + reo_wnd (min_RTT/4) has passed,
// and the reordering timer fires then.
func TestRACKReorderingWindow(t *testing.T) {
	s := establishedRACK(t)
	s.c.Write(make([]byte, 4000), s.now)
	s.take()
	s.now = s.now.Add(rackRTT)
	s.sackAck(localISS+1, SACKBlock{localISS + 1001, localISS + 2001})
	if got := s.take(); resent(got, localISS+1) != 0 {
		t.Fatalf("resent at once: %v", got)
	}
	if d := s.advanceToDeadline(); d != rackRTT/4 {
		t.Fatalf("reordering timer after %v, want min_RTT/4 = %v", d, rackRTT/4)
	}
	if got := s.take(); resent(got, localISS+1) != 1 {
		t.Fatalf("after the reordering window sent %v, want 1001 again", got)
	}
	if st := s.c.Stats(); st.FastRetransmits != 1 || st.Timeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRACKFindsLostRetransmission: a retransmission that is lost again is
// found when data sent after it is delivered, without a timeout (what
// DupThresh cannot do).
func TestRACKFindsLostRetransmission(t *testing.T) {
	s := establishedRACK(t)
	s.c.Write(make([]byte, 10000), s.now)
	if n := len(s.take()); n != 10 {
		t.Fatalf("IW sent %d segments", n)
	}
	s.now = s.now.Add(rackRTT)
	// Segment 1001 is lost; 2001..6001 are SACKed: RACK marks it lost.
	s.sackAck(localISS+1, SACKBlock{localISS + 1001, localISS + 5001})
	if got := s.take(); resent(got, localISS+1) != 1 {
		t.Fatalf("first retransmission missing: %v", got)
	}
	// New data goes out once the rest of the flight is SACKed...
	s.now = s.now.Add(2 * time.Millisecond)
	s.c.Write(make([]byte, 4000), s.now)
	s.sackAck(localISS+1, SACKBlock{localISS + 1001, localISS + 10001})
	var newSeq Seq
	for _, g := range s.take() {
		if g.Seq.GreaterThanEq(localISS + 10001) {
			newSeq = g.Seq
		}
	}
	if newSeq == 0 {
		t.Fatal("no new data sent in recovery")
	}
	// ... and its delivery, an RTT later, shows the retransmission of 1001
	// (sent before it) was lost too.
	s.now = s.now.Add(rackRTT)
	s.sackAck(localISS+1, SACKBlock{localISS + 1001, newSeq.Add(1000)})
	if got := s.take(); resent(got, localISS+1) != 1 {
		t.Fatalf("lost retransmission not resent: %v", got)
	}
	if st := s.c.Stats(); st.Timeouts != 0 {
		t.Fatalf("timeouts %d", st.Timeouts)
	}
}

// TestTLPProbesTheTail: when the last segments of a flight are lost, no
// ACK comes; after PTO = 2*SRTT a probe resends the last segment, and its
// SACK lets RACK find the others, long before the 200 ms RTO.
func TestTLPProbesTheTail(t *testing.T) {
	s := establishedRACK(t)
	s.c.Write(make([]byte, 3000), s.now)
	s.take()
	if d := s.advanceToDeadline(); d != 2*rackRTT {
		t.Fatalf("probe after %v, want 2*SRTT", d)
	}
	got := s.take()
	if len(got) != 1 || got[0].Seq != localISS+2001 {
		t.Fatalf("probe %v, want the last segment 3001", got)
	}
	s.now = s.now.Add(rackRTT)
	s.sackAck(localISS+1, SACKBlock{localISS + 2001, localISS + 3001})
	got = s.take()
	if resent(got, localISS+1) != 1 || resent(got, localISS+1001) != 1 {
		t.Fatalf("after the probe's SACK sent %v, want 1001 and 2001", got)
	}
	if st := s.c.Stats(); st.TailLossProbes != 1 || st.Timeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReceiveAutoTuning: the window offered starts at ReceiveBufferMin
// and doubles, up to ReceiveBufferSize, when the application reads more
// than half of it within an RTT; a slow reader keeps it small.
func TestReceiveAutoTuning(t *testing.T) {
	cfg := testConfig()
	cfg.WindowScale = true
	cfg.ReceiveBufferSize, cfg.ReceiveBufferMin = 256<<10, 16<<10
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	s.take()
	s.now = s.now.Add(rackRTT)
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 60000,
		Options: Options{HasMSS: true, MSS: 1000, HasWindowScale: true, WindowScale: 0}}, "")
	s.take()
	if st := s.c.Stats(); st.ReceiveSpace != 16<<10 || st.ReceiveWindow > 16<<10 {
		t.Fatalf("initial space %d window %d", st.ReceiveSpace, st.ReceiveWindow)
	}
	seq := remoteISS + 1
	buf := make([]byte, 64<<10)
	// A fast reader: each RTT the peer fills the window and the
	// application reads it all.
	for range 8 {
		w := s.c.Stats().ReceiveWindow
		for sent := 0; sent < w; sent += 1000 {
			n := min(1000, w-sent)
			s.send(HeaderFields{Seq: seq, Ack: localISS + 1, Flags: FlagACK, Window: 60000}, string(make([]byte, n)))
			seq = seq.Add(uint32(n))
		}
		s.now = s.now.Add(rackRTT)
		for {
			n, _ := s.c.Read(buf, s.now)
			if n == 0 {
				break
			}
		}
		s.take()
	}
	st := s.c.Stats()
	if st.ReceiveSpace != 256<<10 || st.ReceiveSpaceGrown < 2 {
		t.Fatalf("fast reader: space %d after %d doublings, want the 256 KiB maximum", st.ReceiveSpace, st.ReceiveSpaceGrown)
	}

	// A reader that never reads: the space stays where it started.
	slow := establishedWith(t, cfg, Options{HasWindowScale: true})
	for i := range 10 {
		slow.now = slow.now.Add(rackRTT)
		slow.send(HeaderFields{Seq: remoteISS + 1 + Seq(1000*i), Ack: localISS + 1, Flags: FlagACK, Window: 60000}, string(make([]byte, 1000)))
	}
	if st := slow.c.Stats(); st.ReceiveSpace != 16<<10 {
		t.Fatalf("slow reader: space grew to %d", st.ReceiveSpace)
	}
}

// TestTLPRepairedLossReducesWindow: when the probe resent the last
// segment and the ACK for it brings no D-SACK, the original was lost and
// the probe repaired it: the congestion control reduces the window (RFC
// 8985 section 7.4). With a D-SACK the original had arrived: no change.
func TestTLPRepairedLossReducesWindow(t *testing.T) {
	for _, dsack := range []bool{false, true} {
		s := establishedRACK(t)
		s.c.Write(make([]byte, 4000), s.now)
		s.take()
		s.now = s.now.Add(rackRTT)
		// 2001 arrives but its ACK is lost; 3001 is lost.
		s.sackAck(localISS + 2001)
		cwnd := s.c.Stats().CongestionWindow
		s.advanceToDeadline() // the probe resends the last segment, 3001
		if got := s.take(); len(got) != 1 || resent(got, localISS+3001) != 1 {
			t.Fatalf("probe %v", got)
		}
		s.now = s.now.Add(rackRTT)
		if dsack {
			s.sackAck(localISS+4001, SACKBlock{localISS + 3001, localISS + 4001})
		} else {
			s.sackAck(localISS + 4001)
		}
		st := s.c.Stats()
		if reduced := st.CongestionWindow < cwnd; reduced == dsack || st.TLPRecoveries != map[bool]int{false: 1, true: 0}[dsack] {
			t.Fatalf("D-SACK %v: cwnd %d -> %d, TLP recoveries %d", dsack, cwnd, st.CongestionWindow, st.TLPRecoveries)
		}
	}
}

// TestRACKFindsLostRetransmissionBelowOneMillisecond: on a path faster
// than the 1 ms timestamp clock, RACK.min_RTT must come from the
// segments' own send times. The timestamp echo says 0 or 1 ms there; if
// min_RTT were the 1 ms of those samples, RFC 8985 6.2 step 2 would take
// every ACK of a retransmission (300 us after it was sent) for one of the
// original, RACK.xmit_ts would never reach a retransmission, and a lost
// retransmission with nothing sent after it (here the application has no
// more data; in a bulk transfer the send buffer or the peer's window is
// full) would wait for the 200 ms RTO.
func TestRACKFindsLostRetransmissionBelowOneMillisecond(t *testing.T) {
	const rtt = 300 * time.Microsecond
	cfg := sackConfig()
	cfg.Timestamps = true
	s := newStepper(t, cfg)
	s.c.Connect(s.now)
	syn := s.take()[0]
	s.now = s.now.Add(rtt)
	peerTS := uint32(1000)
	s.send(HeaderFields{Seq: remoteISS, Ack: localISS + 1, Flags: FlagSYN | FlagACK, Window: 60000,
		Options: Options{HasMSS: true, MSS: 1000, SACKPermitted: true, HasTimestamps: true, TSVal: peerTS, TSEcr: syn.Options.TSVal}}, "")
	s.expectState(Established)
	s.take()
	mss := s.c.SendMSS() // 988: the MSS less the timestamps option
	seqAt := func(base Seq, segs int) Seq { return base.Add(uint32(segs * mss)) }
	// ackSeg acknowledges up to ack and SACKs blocks, echoing echo.
	ackSeg := func(ack Seq, echo uint32, blocks ...SACKBlock) {
		peerTS++
		o := Options{HasTimestamps: true, TSVal: peerTS, TSEcr: echo, SACKBlockCount: len(blocks)}
		copy(o.SACKBlocks[:], blocks)
		s.send(HeaderFields{Seq: remoteISS + 1, Ack: ack, Flags: FlagACK, Window: 60000, Options: o}, "")
	}
	// Round trips of one segment each, 300 us apart: some of them span a
	// millisecond tick of the timestamp clock, and their echo says 1 ms.
	next := localISS + 1
	for range 8 {
		s.c.Write(make([]byte, mss), s.now)
		seg := s.take()[0]
		s.now = s.now.Add(rtt)
		next = seqAt(next, 1)
		ackSeg(next, seg.Options.TSVal)
	}
	if st := s.c.Stats(); st.MinRTT != rtt {
		t.Fatalf("min RTT %v after %v round trips, want %v", st.MinRTT, rtt, rtt)
	}

	// Ten segments; the first two are lost, the rest SACKed an RTT later:
	// RACK marks the two lost (reo_wnd is 0 with 3 segments SACKed and
	// no reordering seen) and recovery resends them.
	base := next
	s.c.Write(make([]byte, 10*mss), s.now)
	if got := s.take(); len(got) != 10 {
		t.Fatalf("sent %d segments, want 10", len(got))
	}
	s.now = s.now.Add(rtt)
	ackSeg(base, 0, SACKBlock{seqAt(base, 2), seqAt(base, 10)})
	var retransmissions []sentSegment
	for _, g := range s.take() {
		if len(g.Payload) > 0 {
			retransmissions = append(retransmissions, g)
		}
	}
	if len(retransmissions) != 2 || retransmissions[0].Seq != base || retransmissions[1].Seq != seqAt(base, 1) {
		t.Fatalf("recovery resent %v, want %v and %v", retransmissions, base, seqAt(base, 1))
	}
	// The retransmission of the first is lost; that of the second is
	// SACKed an RTT later. It was sent after the first one's: RACK marks
	// the first lost again and resends it at once.
	s.now = s.now.Add(rtt)
	ackSeg(base, retransmissions[1].Options.TSVal, SACKBlock{seqAt(base, 1), seqAt(base, 10)})
	if got := s.take(); resent(got, base) != 1 {
		d, _ := s.c.Deadline()
		t.Fatalf("the lost retransmission was not resent (sent %v; next timer in %v)", got, d.Sub(s.now))
	}
	s.now = s.now.Add(rtt)
	ackSeg(seqAt(base, 10), 0)
	if st := s.c.Stats(); st.Timeouts != 0 || st.FastRetransmits != 1 || st.Retransmissions != 3 {
		t.Fatalf("timeouts %d, fast retransmits %d, retransmissions %d; want 0, 1, 3", st.Timeouts, st.FastRetransmits, st.Retransmissions)
	}
}

// TestTLPResendsTheLastSegment: the probe resends the last segment even
// when new data waits (a deliberate departure from RFC 8985 7.3's SHOULD,
// explained at onTLPTimeout): when only the ACKs were lost, the duplicate
// draws an immediate ACK with a D-SACK, where new data in order could wait
// for the peer's delayed ACK. The D-SACK says the original arrived: no
// window reduction (7.4), and no reordering either.
func TestTLPResendsTheLastSegment(t *testing.T) {
	s := establishedRACK(t)
	s.c.Write(make([]byte, 14000), s.now)
	if got := s.take(); len(got) != 10 {
		t.Fatalf("sent %d segments, want the 10 of the initial window", len(got))
	}
	cwnd := s.c.Stats().CongestionWindow
	if d := s.advanceToDeadline(); d != 2*rackRTT {
		t.Fatalf("probe after %v, want 2*SRTT", d)
	}
	got := s.take()
	if len(got) != 1 || got[0].Seq != localISS+9001 || len(got[0].Payload) != 1000 {
		t.Fatalf("probe %v, want the last segment, 9001, again", got)
	}
	// Everything had arrived; the peer reports the probe as a duplicate.
	s.now = s.now.Add(rackRTT)
	s.sackAck(localISS+10001, SACKBlock{localISS + 9001, localISS + 10001})
	st := s.c.Stats()
	if st.TailLossProbes != 1 || st.TLPRecoveries != 0 || st.DSACKsReceived != 1 || st.CongestionWindow < cwnd {
		t.Fatalf("after the D-SACK of the probe: %+v (cwnd before %d)", st, cwnd)
	}
	if s.c.rackReorderingSeen || s.c.rackReoWndMult != 1 {
		t.Fatalf("the probe's D-SACK counted as reordering (multiplier %d)", s.c.rackReoWndMult)
	}
	if got := s.take(); len(got) == 0 || got[0].Seq != localISS+10001 {
		t.Fatalf("after the ACK sent %v, want the new data from 10001", got)
	}
}

// TestTLPEpisodeWaitsPastAnAmbiguousACK: an ACK of exactly TLP.end_seq
// without a D-SACK may be the late ACK of the original; while new data is
// out, the episode waits (RFC 8985 7.4). The probe's D-SACK then says no
// loss; an ACK beyond TLP.end_seq with none says the probe repaired one.
func TestTLPEpisodeWaitsPastAnAmbiguousACK(t *testing.T) {
	for _, dsack := range []bool{true, false} {
		s := establishedRACK(t)
		s.c.Write(make([]byte, 14000), s.now)
		s.take()
		s.advanceToDeadline() // the probe resends 9001
		if got := s.take(); len(got) != 1 || got[0].Seq != localISS+9001 {
			t.Fatalf("probe %v", got)
		}
		s.now = s.now.Add(rackRTT / 2)
		s.sackAck(localISS + 10001) // the original's ACK, late
		if st := s.c.Stats(); st.TLPRecoveries != 0 {
			t.Fatalf("the ambiguous ACK ended the episode as a repair: %+v", st)
		}
		if got := s.take(); len(got) == 0 || got[0].Seq != localISS+10001 {
			t.Fatalf("after the ACK sent %v, want new data from 10001", got)
		}
		cwnd := s.c.Stats().CongestionWindow
		s.now = s.now.Add(rackRTT / 2)
		if dsack {
			s.sackAck(localISS+10001, SACKBlock{localISS + 9001, localISS + 10001})
		} else {
			s.sackAck(localISS + 11001)
		}
		st := s.c.Stats()
		if wantRepair := !dsack; (st.TLPRecoveries == 1) != wantRepair || (st.CongestionWindow < cwnd) != wantRepair {
			t.Fatalf("D-SACK %v: TLP recoveries %d, cwnd %d -> %d", dsack, st.TLPRecoveries, cwnd, st.CongestionWindow)
		}
	}
}
