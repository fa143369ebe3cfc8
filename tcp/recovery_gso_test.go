package tcp

import "testing"

// TestSACKRecoveryNewDataAsSuperSegments: in SACK recovery, the new data
// that RFC 6675's loop (section 5, step C) would send one SMSS at a time
// while cwnd - pipe allows goes, with segmentation offload, as one
// super-segment of whole SMSS pieces: the same sequence ranges on the
// wire, fewer writes. Without offload nothing changes.
func TestSACKRecoveryNewDataAsSuperSegments(t *testing.T) {
	run := func(gso int) (newData []sentSegment) {
		cfg := sackConfig()
		cfg.RACK = false // RFC 6675's DupThresh decides
		cfg.GSOMaxSize = gso
		s := establishedWith(t, cfg, Options{SACKPermitted: true})
		s.c.Write(make([]byte, 40000), s.now)
		s.take()
		sent := s.c.sndMax
		// Segment 1001 is lost; three duplicate ACKs SACK the next ones,
		// the fourth SACKs all but the hole, which lets new data go.
		// (The first two send one segment each by limited transmit, RFC
		// 3042; the third starts recovery and resends the hole.)
		for i := range 3 {
			s.sackAck(localISS+1, SACKBlock{localISS + 1001, localISS + Seq(2001+1000*i)})
		}
		s.take()
		s.sackAck(localISS+1, SACKBlock{localISS + 1001, sent})
		for _, g := range s.take() {
			if len(g.Payload) > 0 && g.Seq.GreaterThanEq(sent) {
				newData = append(newData, g)
			}
		}
		if !s.c.Stats().InRecovery {
			t.Fatalf("GSOMaxSize %d: not in recovery", gso)
		}
		return newData
	}
	plain, offload := run(0), run(64000)
	total := func(segs []sentSegment) (n int) {
		for _, g := range segs {
			n += len(g.Payload)
		}
		return n
	}
	if len(plain) < 3 {
		t.Fatalf("without offload, %d new segments in recovery; the test needs at least 3", len(plain))
	}
	for _, g := range plain {
		if len(g.Payload) > 1000 {
			t.Fatalf("without offload a %d-byte segment", len(g.Payload))
		}
	}
	if len(offload) != 1 || total(offload) != total(plain) || offload[0].Seq != plain[0].Seq {
		t.Fatalf("with offload %d segments of %d bytes from %v, want one of %d bytes from %v",
			len(offload), total(offload), offload, total(plain), plain[0].Seq)
	}
	if total(offload)%1000 != 0 {
		t.Errorf("super-segment of %d bytes: not whole SMSS pieces", total(offload))
	}
}
