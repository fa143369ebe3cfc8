package stack

import (
	"fmt"
	"io"
	"sync/atomic"
)

// DropReason says why the stack threw a packet away. Every reason has its
// own counter (Stats.Drops) and a name, which the pcap tee writes as a
// comment on the dropped packet.
type DropReason uint8

// The reasons a received packet can be dropped.
const (
	DropNone DropReason = iota
	// IPv4 input validation (RFC 791 section 3.1, RFC 1122 section 3.2.1).
	DropTooShort          // shorter than a minimal IPv4 header
	DropBadVersion        // version field is not 4
	DropBadHeaderLength   // IHL under 5 or past the packet
	DropBadTotalLength    // total length under the header or past the packet
	DropBadChecksum       // IPv4 header checksum wrong
	DropNotOurAddress     // destination is none of the stack's addresses
	DropMartianSource     // source is broadcast, multicast, loopback or unspecified
	DropTTLZero           // TTL 0: already expired on the way (RFC 791 section 3.2)
	DropFragment          // a malformed fragment: MF set and data empty or not a multiple of 8
	DropFragmentDuplicate // a fragment repeating data already held (RFC 5722 allows ignoring it)
	DropFragmentOverlap   // fragments overlap: the whole datagram is dropped (as RFC 5722)
	DropFragmentBadLength // fragments disagree on the datagram's length: dropped whole
	DropFragmentTooLarge  // reassembled datagram would exceed 65535 bytes: dropped whole
	DropFragmentNoMemory  // the reassembly memory cap left no room: dropped whole
	DropUnknownProtocol   // no handler for the protocol (answered by ICMP protocol unreachable)
	DropICMPMalformed     // ICMP message too short
	DropICMPBadChecksum   // ICMP checksum wrong
	DropICMPUnhandled     // an ICMP type the stack does not act on
	DropTCPMalformed      // TCP header malformed or options invalid
	DropTCPBadChecksum    // TCP checksum wrong
	DropTCPNoSocket       // TCP segment for no connection and no listener (answered by RST)
	DropTCPListenOverflow // listener's backlog full
	DropTCPInvalid        // refused by the state machine (e.g. outside the window)
	DropUDPMalformed      // UDP header malformed
	DropUDPBadChecksum    // UDP checksum wrong
	DropUDPNoSocket       // UDP datagram for a closed port
	DropUDPQueueFull      // socket receive queue full
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	DropNone:              "none",
	DropTooShort:          "ipv4: packet too short",
	DropBadVersion:        "ipv4: version is not 4",
	DropBadHeaderLength:   "ipv4: bad header length",
	DropBadTotalLength:    "ipv4: bad total length",
	DropBadChecksum:       "ipv4: bad header checksum",
	DropNotOurAddress:     "ipv4: destination is not ours",
	DropMartianSource:     "ipv4: martian source address",
	DropTTLZero:           "ipv4: TTL is zero",
	DropFragment:          "ipv4: malformed fragment",
	DropFragmentDuplicate: "ipv4: duplicate fragment",
	DropFragmentOverlap:   "ipv4: overlapping fragments",
	DropFragmentBadLength: "ipv4: inconsistent fragment lengths",
	DropFragmentTooLarge:  "ipv4: reassembled datagram too large",
	DropFragmentNoMemory:  "ipv4: reassembly memory full",
	DropUnknownProtocol:   "ipv4: protocol unreachable",
	DropICMPMalformed:     "icmp: malformed",
	DropICMPBadChecksum:   "icmp: bad checksum",
	DropICMPUnhandled:     "icmp: type not handled",
	DropTCPMalformed:      "tcp: malformed",
	DropTCPBadChecksum:    "tcp: bad checksum",
	DropTCPNoSocket:       "tcp: no socket",
	DropTCPListenOverflow: "tcp: listen queue full",
	DropTCPInvalid:        "tcp: not acceptable",
	DropUDPMalformed:      "udp: malformed",
	DropUDPBadChecksum:    "udp: bad checksum",
	DropUDPNoSocket:       "udp: no socket",
	DropUDPQueueFull:      "udp: receive queue full",
}

// String names the reason.
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropReasonNames[r]
	}
	return fmt.Sprintf("drop reason %d", uint8(r))
}

// DropReasons lists every reason, in order, for printing all counters.
func DropReasons() []DropReason {
	rs := make([]DropReason, 0, numDropReasons-1)
	for r := DropNone + 1; r < numDropReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// counter is a statistics counter safe for concurrent use.
type counter struct{ v atomic.Uint64 }

func (c *counter) inc()         { c.v.Add(1) }
func (c *counter) add(n uint64) { c.v.Add(n) }
func (c *counter) get() uint64  { return c.v.Load() }

// IPStats are the IP counters, named as in Linux's /proc/net/snmp.
type IPStats struct {
	InReceives      uint64 // packets read from the link
	InHdrErrors     uint64 // dropped for a bad header (version, lengths, checksum, TTL, martian source)
	InAddrErrors    uint64 // dropped because the destination is not ours
	InUnknownProtos uint64 // dropped for an unknown protocol
	InDiscards      uint64 // dropped for other reasons
	InDelivers      uint64 // handed to ICMP, TCP or UDP
	OutRequests     uint64 // packets the stack sent
	OutDiscards     uint64 // packets the link refused
	// Reassembly (RFC 791 section 3.2) and fragmentation.
	ReasmReqds    uint64 // fragments received
	ReasmOKs      uint64 // datagrams reassembled
	ReasmFails    uint64 // datagrams (or malformed fragments) given up: overlaps, bad lengths, timeouts, memory
	ReasmTimeout  uint64 // datagrams given up because the reassembly timer ran out
	ReasmOverlaps uint64 // datagrams dropped for overlapping fragments
	FragOKs       uint64 // datagrams fragmented to fit the MTU
	FragFails     uint64 // datagrams that needed fragmenting but could not be
	FragCreates   uint64 // fragments sent
}

// ICMPStats are the ICMP counters, named as in /proc/net/snmp.
type ICMPStats struct {
	InMsgs           uint64
	InErrors         uint64 // malformed or bad checksum
	InCsumErrors     uint64
	InEchos          uint64
	InDestUnreachs   uint64
	OutMsgs          uint64
	OutEchoReps      uint64
	OutDestUnreachs  uint64
	OutRateLimited   uint64 // errors not sent because of the rate limit (RFC 1812 section 4.3.2.8)
	InOtherTypes     uint64
	OutErrorsSkipped uint64 // errors not sent because RFC 1122 section 3.2.2 forbids them
}

// TCPStats are the TCP counters, named as in /proc/net/snmp.
type TCPStats struct {
	ActiveOpens  uint64
	PassiveOpens uint64
	AttemptFails uint64
	EstabResets  uint64
	CurrEstab    uint64
	InSegs       uint64
	OutSegs      uint64
	RetransSegs  uint64
	InErrs       uint64
	OutRsts      uint64
	InCsumErrors uint64
	// PMTUReductions counts ICMP "fragmentation needed" messages that
	// lowered a connection's MSS (RFC 1191).
	PMTUReductions uint64
	// ICMPErrors counts other ICMP errors a connection took (RFC 9293
	// 3.9.2.2): they quoted a segment in flight, and either ended a
	// connection attempt or became its soft error.
	ICMPErrors uint64
	// BusyPollRxPackets counts packets that a busy-polling TCP reader read
	// from the link itself instead of the pump (Options.BusyPoll;
	// Linux's TcpExt BusyPollRxPackets).
	BusyPollRxPackets uint64
}

// UDPStats are the UDP counters, named as in /proc/net/snmp.
type UDPStats struct {
	InDatagrams  uint64
	NoPorts      uint64
	InErrors     uint64
	OutDatagrams uint64
	RcvbufErrors uint64
	InCsumErrors uint64
}

// Stats is a snapshot of the stack's counters.
type Stats struct {
	IP   IPStats
	ICMP ICMPStats
	TCP  TCPStats
	UDP  UDPStats
	// Drops counts dropped received packets by reason; index it with a
	// DropReason.
	Drops [numDropReasons]uint64
}

// Drop returns the counter for one reason.
func (s Stats) Drop(r DropReason) uint64 {
	if r < numDropReasons {
		return s.Drops[r]
	}
	return 0
}

// WriteTo prints the counters that are not zero, one per line, in the
// spirit of `nstat`.
func (s *Stats) WriteTo(w io.Writer) (int64, error) {
	var n int64
	p := func(format string, args ...any) {
		k, _ := fmt.Fprintf(w, format, args...)
		n += int64(k)
	}
	section := func(name string, fields []namedCount) {
		for _, f := range fields {
			if f.v != 0 {
				p("%s%-18s %d\n", name, f.name, f.v)
			}
		}
	}
	section("Ip", []namedCount{{"InReceives", s.IP.InReceives}, {"InHdrErrors", s.IP.InHdrErrors},
		{"InAddrErrors", s.IP.InAddrErrors}, {"InUnknownProtos", s.IP.InUnknownProtos},
		{"InDiscards", s.IP.InDiscards}, {"InDelivers", s.IP.InDelivers},
		{"OutRequests", s.IP.OutRequests}, {"OutDiscards", s.IP.OutDiscards},
		{"ReasmReqds", s.IP.ReasmReqds}, {"ReasmOKs", s.IP.ReasmOKs}, {"ReasmFails", s.IP.ReasmFails},
		{"ReasmTimeout", s.IP.ReasmTimeout}, {"ReasmOverlaps", s.IP.ReasmOverlaps},
		{"FragOKs", s.IP.FragOKs}, {"FragFails", s.IP.FragFails}, {"FragCreates", s.IP.FragCreates}})
	section("Icmp", []namedCount{{"InMsgs", s.ICMP.InMsgs}, {"InErrors", s.ICMP.InErrors},
		{"InCsumErrors", s.ICMP.InCsumErrors}, {"InEchos", s.ICMP.InEchos},
		{"InDestUnreachs", s.ICMP.InDestUnreachs}, {"InOtherTypes", s.ICMP.InOtherTypes},
		{"OutMsgs", s.ICMP.OutMsgs}, {"OutEchoReps", s.ICMP.OutEchoReps},
		{"OutDestUnreachs", s.ICMP.OutDestUnreachs}, {"OutRateLimited", s.ICMP.OutRateLimited},
		{"OutErrorsSkipped", s.ICMP.OutErrorsSkipped}})
	section("Tcp", []namedCount{{"ActiveOpens", s.TCP.ActiveOpens}, {"PassiveOpens", s.TCP.PassiveOpens},
		{"AttemptFails", s.TCP.AttemptFails}, {"EstabResets", s.TCP.EstabResets},
		{"CurrEstab", s.TCP.CurrEstab}, {"InSegs", s.TCP.InSegs}, {"OutSegs", s.TCP.OutSegs},
		{"RetransSegs", s.TCP.RetransSegs}, {"InErrs", s.TCP.InErrs}, {"OutRsts", s.TCP.OutRsts},
		{"InCsumErrors", s.TCP.InCsumErrors}, {"PMTUReductions", s.TCP.PMTUReductions},
		{"ICMPErrors", s.TCP.ICMPErrors}, {"BusyPollRxPackets", s.TCP.BusyPollRxPackets}})
	section("Udp", []namedCount{{"InDatagrams", s.UDP.InDatagrams}, {"NoPorts", s.UDP.NoPorts},
		{"InErrors", s.UDP.InErrors}, {"OutDatagrams", s.UDP.OutDatagrams},
		{"RcvbufErrors", s.UDP.RcvbufErrors}, {"InCsumErrors", s.UDP.InCsumErrors}})
	for r := DropNone + 1; r < numDropReasons; r++ {
		if s.Drops[r] != 0 {
			p("Drop %-30s %d\n", r.String(), s.Drops[r])
		}
	}
	return n, nil
}

type namedCount struct {
	name string
	v    uint64
}

// stackCounters is the live, concurrently updated form of Stats.
type stackCounters struct {
	ip struct {
		inReceives, inHdrErrors, inAddrErrors, inUnknownProtos, inDiscards, inDelivers,
		outRequests, outDiscards counter
		reasmReqds, reasmOKs, reasmFails, reasmTimeout, reasmOverlaps,
		fragOKs, fragFails, fragCreates counter
	}
	icmp struct {
		inMsgs, inErrors, inCsumErrors, inEchos, inDestUnreachs, inOtherTypes,
		outMsgs, outEchoReps, outDestUnreachs, outRateLimited, outErrorsSkipped counter
	}
	tcp struct {
		activeOpens, passiveOpens, attemptFails, estabResets, currEstab,
		inSegs, outSegs, retransSegs, inErrs, outRsts, inCsumErrors, pmtuReductions, icmpErrorsTaken, busyPollRxPackets counter
	}
	udp struct {
		inDatagrams, noPorts, inErrors, outDatagrams, rcvbufErrors, inCsumErrors counter
	}
	drops [numDropReasons]counter
}

func (c *stackCounters) snapshot() Stats {
	var s Stats
	s.IP = IPStats{
		InReceives: c.ip.inReceives.get(), InHdrErrors: c.ip.inHdrErrors.get(),
		InAddrErrors: c.ip.inAddrErrors.get(), InUnknownProtos: c.ip.inUnknownProtos.get(),
		InDiscards: c.ip.inDiscards.get(), InDelivers: c.ip.inDelivers.get(),
		OutRequests: c.ip.outRequests.get(), OutDiscards: c.ip.outDiscards.get(),
		ReasmReqds: c.ip.reasmReqds.get(), ReasmOKs: c.ip.reasmOKs.get(), ReasmFails: c.ip.reasmFails.get(),
		ReasmTimeout: c.ip.reasmTimeout.get(), ReasmOverlaps: c.ip.reasmOverlaps.get(),
		FragOKs: c.ip.fragOKs.get(), FragFails: c.ip.fragFails.get(), FragCreates: c.ip.fragCreates.get(),
	}
	s.ICMP = ICMPStats{
		InMsgs: c.icmp.inMsgs.get(), InErrors: c.icmp.inErrors.get(),
		InCsumErrors: c.icmp.inCsumErrors.get(), InEchos: c.icmp.inEchos.get(),
		InDestUnreachs: c.icmp.inDestUnreachs.get(), InOtherTypes: c.icmp.inOtherTypes.get(),
		OutMsgs: c.icmp.outMsgs.get(), OutEchoReps: c.icmp.outEchoReps.get(),
		OutDestUnreachs: c.icmp.outDestUnreachs.get(), OutRateLimited: c.icmp.outRateLimited.get(),
		OutErrorsSkipped: c.icmp.outErrorsSkipped.get(),
	}
	s.TCP = TCPStats{
		ActiveOpens: c.tcp.activeOpens.get(), PassiveOpens: c.tcp.passiveOpens.get(),
		AttemptFails: c.tcp.attemptFails.get(), EstabResets: c.tcp.estabResets.get(),
		CurrEstab: c.tcp.currEstab.get(), InSegs: c.tcp.inSegs.get(), OutSegs: c.tcp.outSegs.get(),
		RetransSegs: c.tcp.retransSegs.get(), InErrs: c.tcp.inErrs.get(),
		OutRsts: c.tcp.outRsts.get(), InCsumErrors: c.tcp.inCsumErrors.get(),
		PMTUReductions: c.tcp.pmtuReductions.get(), ICMPErrors: c.tcp.icmpErrorsTaken.get(),
		BusyPollRxPackets: c.tcp.busyPollRxPackets.get(),
	}
	s.UDP = UDPStats{
		InDatagrams: c.udp.inDatagrams.get(), NoPorts: c.udp.noPorts.get(),
		InErrors: c.udp.inErrors.get(), OutDatagrams: c.udp.outDatagrams.get(),
		RcvbufErrors: c.udp.rcvbufErrors.get(), InCsumErrors: c.udp.inCsumErrors.get(),
	}
	for i := range c.drops {
		s.Drops[i] = c.drops[i].get()
	}
	return s
}
