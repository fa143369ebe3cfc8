package stack

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/tundra-net/tundra/tcp"
)

// SYN cookies (RFC 4987 section 3.6). When a listener's backlog is full of
// half-open connections, as under a SYN flood from spoofed addresses, it
// answers further SYNs without keeping any state: the initial sequence
// number of its SYN+ACK is a cookie
//
//	cookie = H1(key, four-tuple) + SEG.SEQ + (count << 24)
//	         + ((H2(key, four-tuple, count) + mssIndex) mod 2^24)
//
// (the construction Linux uses), where count is a clock ticking every 64
// seconds and mssIndex picks the peer's MSS from a small table. Only a
// peer that received the SYN+ACK can return cookie+1 in its ACK; the
// listener then recomputes the hashes, accepts a count at most one tick
// old and a valid index, and builds the connection from the ACK
// (tcp.NewConnFromCookie). Window scale, SACK-permitted and the ECN
// agreement (RFC 3168 6.1.1) travel in the timestamp (tcp.CookieSYNACK);
// without timestamps they are lost, the price of keeping no state, and an
// ECN-setup SYN is answered with a plain SYN-ACK so that neither end uses
// ECN.

// cookieMSSTable is what a cookie can say about the peer's MSS (Linux's
// msstab): the largest entry not above the MSS the SYN offered.
var cookieMSSTable = [...]int{536, 1300, 1440, 1460}

const (
	cookiePeriod = 64 * time.Second // one tick of the cookie's clock
	cookieMaxAge = 1                // ticks a cookie stays valid after the one it was made in
)

// synCookies makes and checks the cookies of one listener.
type synCookies struct {
	key                      [32]byte
	sent, accepted, rejected atomic.Uint64
}

func newSYNCookies() *synCookies {
	k := &synCookies{}
	rand.Read(k.key[:]) // never fails (Go 1.24+)
	return k
}

// hash is H1 (count unused, which 1) or H2 (which 2): SHA-256 over the
// key, which, the four-tuple and count, truncated to 32 bits.
func (k *synCookies) hash(id tcp.FourTuple, count uint32, which byte) uint32 {
	var buf [32 + 1 + 12 + 4]byte
	copy(buf[:32], k.key[:])
	buf[32] = which
	copy(buf[33:37], id.LocalAddr[:])
	copy(buf[37:41], id.RemoteAddr[:])
	binary.BigEndian.PutUint16(buf[41:43], id.LocalPort)
	binary.BigEndian.PutUint16(buf[43:45], id.RemotePort)
	binary.BigEndian.PutUint32(buf[45:49], count)
	sum := sha256.Sum256(buf[:])
	return binary.BigEndian.Uint32(sum[:4])
}

func cookieCount(now time.Time) uint32 { return uint32(now.Unix() / int64(cookiePeriod/time.Second)) }

// make returns the cookie for a SYN with sequence number peerISN offering
// mss (536 if it had no MSS option).
func (k *synCookies) make(id tcp.FourTuple, peerISN tcp.Seq, mss int, now time.Time) tcp.Seq {
	idx := 0
	for i, m := range cookieMSSTable {
		if m <= mss {
			idx = i
		}
	}
	count := cookieCount(now)
	v := k.hash(id, 0, 1) + uint32(peerISN) + count<<24 + (k.hash(id, count, 2)+uint32(idx))&0xffffff
	return tcp.Seq(v)
}

// check validates the ACK of a cookie SYN+ACK: SEG.ACK-1 must be a cookie
// for this four-tuple and SEG.SEQ-1, made at most cookieMaxAge ticks ago.
// It returns the MSS the cookie kept.
func (k *synCookies) check(id tcp.FourTuple, ack *tcp.Segment, now time.Time) (mss int, ok bool) {
	cookie := uint32(ack.Ack) - 1
	peerISN := uint32(ack.Seq) - 1
	diff := cookie - k.hash(id, 0, 1) - peerISN
	count := cookieCount(now)
	age := (count - diff>>24) & 0xff // the cookie holds the count's low 8 bits
	if age > cookieMaxAge {
		return 0, false
	}
	made := count - age
	idx := (diff - k.hash(id, made, 2)) & 0xffffff
	if idx >= uint32(len(cookieMSSTable)) {
		return 0, false
	}
	return cookieMSSTable[idx], true
}

// sendCookie answers syn with a cookie SYN+ACK and keeps nothing.
func (l *TCPListener) sendCookie(id tcp.FourTuple, syn *tcp.Segment) {
	s := l.s
	mss := 536 // RFC 9293 3.7.1: the default without the option
	if syn.Options.HasMSS {
		mss = int(syn.Options.MSS)
	}
	now := s.clock.Now()
	cookie := l.cookies.make(id, syn.Seq, mss, now)
	l.cookies.sent.Add(1)
	l.mu.Lock()
	tos, ttl := l.tos, s.ttlOr(l.ttl)
	l.mu.Unlock()
	s.tcp.sendSegment(id, tcp.CookieSYNACK(s.tcpConfig(), syn, cookie, now), tcp.Payload{}, tos, ttl, nil)
}

// handleCookieACK takes an ACK that belongs to no connection: if it
// returns a valid cookie, the connection it completes is made and queued
// for Accept. It reports false when the ACK is no cookie's (the caller
// answers it with a RST, RFC 9293 3.10.7.2).
func (l *TCPListener) handleCookieACK(id tcp.FourTuple, ack tcp.Segment) (DropReason, bool) {
	s := l.s
	if s.opts.DisableSYNCookies || l.cookies == nil {
		return DropNone, false
	}
	now := s.clock.Now()
	mss, ok := l.cookies.check(id, &ack, now)
	if !ok {
		l.cookies.rejected.Add(1)
		return DropNone, false
	}
	l.mu.Lock()
	if l.isClosed || len(l.queue) >= cap(l.queue) || s.tcp.connectionsFull() {
		// No room to accept it: drop the ACK; the peer's next segment
		// (or retransmission) brings the cookie again.
		l.mu.Unlock()
		return DropTCPListenOverflow, true
	}
	c := newTCPConnFromCookie(s, id, ack, tcp.CookieOptionsFromACK(&ack, mss), now)
	c.tos, c.ttl = l.tos, l.ttl
	c.listener = l
	l.children[c] = struct{}{}
	l.mu.Unlock()
	if !s.tcp.register(c) {
		l.forget(c)
		return DropNone, true
	}
	l.cookies.accepted.Add(1)
	s.counters.tcp.passiveOpens.inc()
	c.mu.Lock()
	c.tcb.HandleSegment(ack, now)
	c.afterEvent()
	c.mu.Unlock()
	return DropNone, true
}

// SYNCookieStats reports how many cookie SYN+ACKs the listener sent, and
// how many returning ACKs carried a valid cookie or an invalid one.
func (l *TCPListener) SYNCookieStats() (sent, accepted, rejected uint64) {
	if l.cookies == nil {
		return 0, 0, 0
	}
	return l.cookies.sent.Load(), l.cookies.accepted.Load(), l.cookies.rejected.Load()
}

// newTCPConnFromCookie is newTCPConn for a connection a cookie ACK
// completes (tcp.NewConnFromCookie).
func newTCPConnFromCookie(s *Stack, id tcp.FourTuple, ack tcp.Segment, opts tcp.CookieOptions, now time.Time) *TCPConn {
	c := &TCPConn{s: s, t: s.tcp, id: id}
	c.tcb = tcp.NewConnFromCookie(s.tcpConfig(), id, ack, opts, (*connOutput)(c), now)
	c.ready()
	return c
}
