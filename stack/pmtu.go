package stack

import (
	"encoding/binary"

	"github.com/tundra-net/tundra/ipv4"
)

// Path MTU discovery for TCP (RFC 1191). TCP segments leave with DF set;
// a router that cannot forward one without fragmenting drops it and
// answers ICMP "fragmentation needed", carrying the MTU of its next hop.
// The connection whose segment it quotes lowers its MSS to fit and sends
// again. UDP does not take part: it sends without DF and lets routers
// fragment.

// mtuPlateaus are RFC 1191 section 7's table of common MTUs, for routers
// that predate RFC 1191 and send a next-hop MTU of zero: the sender then
// tries the largest plateau below the size of the datagram that failed.
var mtuPlateaus = [...]int{65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, ipv4.MinMTU}

// fragmentationNeeded handles ICMP "fragmentation needed and DF set" about
// a segment we sent (pump goroutine). The message is believed only if it
// quotes a connection we have and a sequence number in flight on it (RFC
// 5927 section 4.1; tcp.Conn.SetPathMTU checks the latter): anyone can send
// ICMP, and a forged message could otherwise throttle any connection.
func (t *tcpTransport) fragmentationNeeded(rest [4]byte, quoted ipv4.Header) {
	c, seq := t.quotedConn(quoted)
	if c == nil {
		return
	}
	mtu := int(binary.BigEndian.Uint16(rest[2:4]))
	if mtu == 0 {
		// RFC 1191 section 5: an old router; guess from the plateau table.
		for _, p := range mtuPlateaus {
			if p < quoted.TotalLength() {
				mtu = p
				break
			}
		}
	}
	// RFC 1191 section 3: a host "MUST NOT reduce its estimate of the Path
	// MTU below 68 octets"; a message claiming less is bogus.
	if mtu < ipv4.MinMTU {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return
	}
	if c.tcb.SetPathMTU(mtu, seq, t.s.clock.Now()) {
		t.s.counters.tcp.pmtuReductions.inc()
	}
	c.afterEvent()
}
