package tcp

import "time"

// The sender's scoreboard: one record per segment sent and not yet
// cumulatively acknowledged, in sequence order, covering SND.UNA to
// SND.MAX. It is kept only when SACK is in use. Each record knows when the
// segment was last sent (for RACK, RFC 8985), whether the peer SACKed it
// (RFC 2018, RFC 6675 section 3), whether it is thought lost, and whether
// it has been retransmitted since. Records are MSS-sized (super-segments
// for offload are recorded per MSS), so SACK blocks fall on record
// boundaries; a record is split when one does not.

// segRecord is one segment on the scoreboard.
type segRecord struct {
	start, end    Seq       // sequence space, the FIN included
	sentAt        time.Time // last (re)transmission
	retransmitted bool      // resent since it was last marked lost (counts in pipe)
	sacked        bool
	lost          bool
	// resent says the segment was ever sent more than once, so that which
	// copy an ACK of it answers is unknown (Karn's ambiguity, RFC 6298
	// section 3). retransmitted is cleared when the segment is marked lost
	// again; resent stays.
	resent bool
}

func (r *segRecord) len() int { return int(r.end.Sub(r.start)) }

// inFlight is the record's share of pipe, counted as Linux does:
// packets_out - sacked_out - lost_out + retrans_out. A lost segment that
// was resent is in flight once; a segment resent without being lost (a
// tail loss probe) twice.
func (r *segRecord) inFlight() int {
	if r.sacked {
		return 0
	}
	n := 0
	if !r.lost {
		n += r.len()
	}
	if r.retransmitted {
		n += r.len()
	}
	return n
}

// sendLog holds the records. live() is recs[head:]; acknowledged records
// are dropped from the front by moving head, and the slice is compacted
// once most of it is dead, so the steady state does not allocate.
type sendLog struct {
	recs        []segRecord
	head        int
	sackedBytes int
	sackedSegs  int
}

func (l *sendLog) live() []segRecord { return l.recs[l.head:] }

func (l *sendLog) reset() {
	l.recs, l.head, l.sackedBytes, l.sackedSegs = l.recs[:0], 0, 0, 0
}

// find returns the index in live() of the record holding seq, or -1.
func (l *sendLog) find(seq Seq) int {
	live := l.live()
	lo, hi := 0, len(live)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case seq.LessThan(live[m].start):
			hi = m
		case seq.GreaterThanEq(live[m].end):
			lo = m + 1
		default:
			return m
		}
	}
	return -1
}

// split makes seq a record boundary if it lies inside a record.
func (l *sendLog) split(seq Seq) {
	i := l.find(seq)
	if i < 0 || l.live()[i].start == seq {
		return
	}
	i += l.head
	r := l.recs[i]
	l.recs = append(l.recs, segRecord{})
	copy(l.recs[i+2:], l.recs[i+1:])
	l.recs[i].end = seq
	r.start = seq
	l.recs[i+1] = r
	if r.sacked {
		l.sackedSegs++
	}
}

// appendSent records new data [start, end) sent at now, in pieces of at
// most mss.
func (l *sendLog) appendSent(start, end Seq, mss int, now time.Time) {
	if l.head > 0 && l.head >= len(l.recs)/2 {
		n := copy(l.recs, l.recs[l.head:])
		l.recs, l.head = l.recs[:n], 0
	}
	for start.LessThan(end) {
		e := MinSeq(end, start.Add(uint32(mss)))
		if end.Sub(e) == 1 {
			e = end // a FIN rides with the last piece
		}
		l.recs = append(l.recs, segRecord{start: start, end: e, sentAt: now})
		start = e
	}
}

// scoreboardAck forgets the records below ack (cumulatively
// acknowledged), telling RACK about each one that was not SACKed before.
// (A method of Conn rather than a callback, so that it does not allocate.)
func (c *Conn) scoreboardAck(ack Seq, now time.Time) {
	l := &c.sb
	l.split(ack)
	for l.head < len(l.recs) && l.recs[l.head].end.LessThanEq(ack) {
		r := &l.recs[l.head]
		if r.sacked {
			l.sackedBytes -= r.len()
			l.sackedSegs--
		} else {
			c.rackDelivered(r, now)
		}
		l.head++
	}
	if l.head == len(l.recs) {
		l.recs, l.head = l.recs[:0], 0
	}
}

// scoreboardSACK marks the records in [left, right) SACKed, tells RACK
// about each newly SACKed one, and returns the bytes newly SACKed.
func (c *Conn) scoreboardSACK(left, right Seq, now time.Time) int {
	l := &c.sb
	l.split(left)
	l.split(right)
	i := l.find(left)
	if i < 0 {
		return 0
	}
	added := 0
	live := l.live()
	for ; i < len(live) && live[i].end.LessThanEq(right); i++ {
		r := &live[i]
		if r.sacked {
			continue
		}
		r.sacked = true
		l.sackedBytes += r.len()
		l.sackedSegs++
		added += r.len()
		c.rackDelivered(r, now)
	}
	return added
}

// pipe is RFC 6675's SetPipe over the records: the bytes thought to be in
// the network.
func (l *sendLog) pipe() int {
	p := 0
	for i := range l.live() {
		p += l.live()[i].inFlight()
	}
	return p
}

// highestSACKed returns the end of the highest SACKed record (RACK.fack),
// and false if none is SACKed.
func (l *sendLog) highestSACKed() (Seq, bool) {
	if l.sackedSegs == 0 {
		return 0, false
	}
	live := l.live()
	for i := len(live) - 1; i >= 0; i-- {
		if live[i].sacked {
			return live[i].end, true
		}
	}
	return 0, false
}

// markLostByDupThresh is RFC 6675's IsLost for the whole scoreboard, used
// when RACK is off: a segment is lost when DupThresh SACKed segments, or
// more than (DupThresh-1)*SMSS SACKed bytes, lie above it. Segments already
// resent are left alone (they are below RFC 6675's HighRxt). It reports
// whether any segment was newly marked.
func (l *sendLog) markLostByDupThresh(mss int) bool {
	live := l.live()
	bytesAbove, segsAbove := 0, 0
	marked := false
	for i := len(live) - 1; i >= 0; i-- {
		r := &live[i]
		if r.sacked {
			bytesAbove += r.len()
			segsAbove++
			continue
		}
		if !r.lost && !r.retransmitted && (segsAbove >= dupThresh || bytesAbove > (dupThresh-1)*mss) {
			r.lost = true
			marked = true
		}
	}
	return marked
}

// markAllLost marks every unSACKed record lost and not resent: after a
// retransmission timeout (RFC 8985 section 6.3, RFC 6675 section 5.1).
func (l *sendLog) markAllLost() {
	live := l.live()
	for i := range live {
		if !live[i].sacked {
			live[i].lost, live[i].retransmitted = true, false
		}
	}
}

// firstLost returns the index in live() of the first segment that is lost
// and not yet resent (NextSeg rule 1), or -1.
func (l *sendLog) firstLost() int {
	live := l.live()
	for i := range live {
		if r := &live[i]; r.lost && !r.retransmitted && !r.sacked {
			return i
		}
	}
	return -1
}
