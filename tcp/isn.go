package tcp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// ISNGenerator chooses initial sequence numbers as RFC 6528 section 3
// describes: ISN = M + F(localip, localport, remoteip, remoteport,
// secretkey), where M is a timer ticking every 4 microseconds and F is a
// keyed hash (here SHA-256 over the key and the four-tuple, truncated to 32
// bits). Each connection's numbers then advance with time, as RFC 9293
// section 3.4.1 requires, while an off-path attacker cannot guess them.
type ISNGenerator struct {
	key [32]byte
}

// NewISNGenerator returns a generator with a random secret key from
// crypto/rand.
func NewISNGenerator() *ISNGenerator {
	g := &ISNGenerator{}
	rand.Read(g.key[:]) // crypto/rand.Read never returns an error (Go 1.24+)
	return g
}

// NewISNGeneratorWithKey returns a generator with the given secret key, for
// reproducible tests and simulations.
func NewISNGeneratorWithKey(key [32]byte) *ISNGenerator { return &ISNGenerator{key: key} }

// ISN returns the initial sequence number for a connection on id at time
// now. It does not allocate.
func (g *ISNGenerator) ISN(id FourTuple, now time.Time) Seq {
	var buf [32 + 12]byte
	copy(buf[:32], g.key[:])
	copy(buf[32:36], id.LocalAddr[:])
	copy(buf[36:40], id.RemoteAddr[:])
	binary.BigEndian.PutUint16(buf[40:42], id.LocalPort)
	binary.BigEndian.PutUint16(buf[42:44], id.RemotePort)
	sum := sha256.Sum256(buf[:])
	f := binary.BigEndian.Uint32(sum[:4])
	m := uint32(now.UnixNano() / 4000) // the 4 microsecond timer
	return Seq(m + f)
}

// RSTForUnexpected returns the reset to send in answer to seg when no
// connection exists for it (RFC 9293 section 3.10.7.1, CLOSED state, and
// section 3.5.2 case 1), with the ports swapped. It reports false when no
// reset may be sent: a RST is never answered with a RST.
//
//	If the ACK bit is off:  <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
//	If the ACK bit is on:   <SEQ=SEG.ACK><CTL=RST>
func RSTForUnexpected(seg *Segment) (HeaderFields, bool) {
	if seg.Flags&FlagRST != 0 {
		return HeaderFields{}, false
	}
	f := HeaderFields{SrcPort: seg.DstPort, DstPort: seg.SrcPort}
	if seg.Flags&FlagACK == 0 {
		f.Seq = 0
		f.Ack = seg.Seq.Add(seg.Len())
		f.Flags = FlagRST | FlagACK
	} else {
		f.Seq = seg.Ack
		f.Flags = FlagRST
	}
	return f, true
}
