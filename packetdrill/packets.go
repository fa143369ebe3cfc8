package packetdrill

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// inject builds an inbound packet from the script and hands it to the
// target.
func (r *runner) inject(p *Packet) error {
	if p.Encap != nil {
		return r.unsupportedf("UDP encapsulation of TCP")
	}
	if err := r.configure(); err != nil {
		return err
	}
	var pkt []byte
	var err error
	switch p.Protocol {
	case ProtoTCP:
		pkt, err = r.buildInboundTCP(p)
	case ProtoICMP:
		pkt, err = r.buildInboundICMP(p)
	default:
		return r.unsupportedf("inbound UDP packets")
	}
	if err != nil {
		return err
	}
	if err := r.target.Inject(pkt); err != nil {
		return r.failf("target refused the packet: %v", err)
	}
	return r.settle()
}

// ipFields returns the IPv4 header values of an inbound packet.
func (r *runner) ipFields(p *Packet, proto uint8) ipv4Fields {
	r.ipID++
	f := ipv4Fields{src: r.remote, dst: r.local, proto: proto, ttl: p.IP.TTL, id: r.ipID}
	switch p.IP.TOSCheck {
	case TOSCheckFull:
		f.tos = p.IP.TOS
	case TOSCheckECN:
		f.tos = p.IP.TOS & 3
	}
	return f
}

// buildInboundTCP turns a script segment into bytes. Sequence numbers
// count from the remote ISN; acknowledgments count from the stack's ISN
// once it is known; a TS ecr is mapped onto the stack's timestamp clock.
func (r *runner) buildInboundTCP(p *Packet) ([]byte, error) {
	t := p.TCP
	if t.Window < 0 {
		return nil, r.failf("an inbound segment needs a window (win N)")
	}
	f := tcpFields{
		srcPort:    r.flow.remotePort,
		dstPort:    r.flow.localPort,
		flags:      t.Flags,
		window:     uint16(t.Window),
		urgent:     t.Urgent,
		payloadLen: int(t.Len),
		ack:        t.Ack,
	}
	if t.SrcPort != 0 || t.DstPort != 0 {
		f.srcPort, f.dstPort = t.SrcPort, t.DstPort
	}
	switch t.SeqMode {
	case SeqAbsolute:
		f.seq = t.Seq
	case SeqIgnored:
		return nil, r.failf("an inbound segment needs a sequence number, not ...")
	default:
		f.seq = r.opts.RemoteISN + t.Seq
	}
	if t.Flags&FlagACK != 0 {
		f.ack = r.flow.localISN + t.Ack
	}
	opts, err := encodeOptions(t.Options, func(o TCPOption) uint32 {
		if o.TSEcrAbsolute || !r.flow.tsKnown || o.TSEcr == 0 {
			return o.TSEcr
		}
		return o.TSEcr + r.flow.tsOffset
	})
	if err != nil {
		if strings.Contains(err.Error(), "not supported") {
			return nil, r.unsupportedf("%v", err)
		}
		return nil, r.failf("%v", err)
	}
	f.options = opts
	seg := buildTCP(r.remote, r.local, f)
	return buildIPv4(r.ipFields(p, protoTCP), seg), nil
}

// buildInboundICMP builds an ICMP error that quotes a segment the stack
// sent on the connection under test (RFC 792, RFC 5927 section 4).
func (r *runner) buildInboundICMP(p *Packet) ([]byte, error) {
	m := p.ICMP
	typ := icmpTypes[m.Type]
	code, _ := icmpCode(m.Type, m.Code)
	if m.EchoedProto != ProtoTCP {
		return nil, r.unsupportedf("ICMP quoting a UDP packet")
	}
	seq := r.flow.localISN + m.EchoedSeq
	quotedSeg := buildTCP(r.local, r.remote, tcpFields{
		srcPort: r.flow.localPort, dstPort: r.flow.remotePort,
		seq: seq, payloadLen: int(m.EchoedLen),
	})
	quoted := buildIPv4(ipv4Fields{src: r.local, dst: r.remote, proto: protoTCP}, quotedSeg)
	msg := buildICMP(typ, code, m.MTU, quoted)
	return buildIPv4(r.ipFields(p, protoICMP), msg), nil
}

// match compares an outbound packet with what the script expects. It
// learns the stack's port, ISN and timestamp clock from SYNs.
func (r *runner) match(want *Packet, got []byte) error {
	if want.Encap != nil {
		return r.unsupportedf("UDP encapsulation of TCP")
	}
	if want.Protocol != ProtoTCP {
		return r.unsupportedf("outbound non-TCP packets")
	}
	ip, err := parseIPv4(got)
	if err != nil {
		return r.failf("malformed packet from the stack: %v", err)
	}
	if !ip.checksumOK() {
		return r.failf("bad IPv4 header checksum: %s", r.describe(got))
	}
	if ip.src() != r.local || ip.dst() != r.remote {
		return r.failf("packet from %v to %v, expected %v to %v: %s", ip.src(), ip.dst(), r.local, r.remote, r.describe(got))
	}
	if ip.protocol() != protoTCP {
		return r.failf("expected a TCP segment, got %s", r.describe(got))
	}
	if err := r.matchIP(want.IP, ip); err != nil {
		return err
	}
	seg, err := parseTCP(ip.payload())
	if err != nil {
		return r.failf("malformed TCP segment from the stack: %v", err)
	}
	if !tcpChecksumOK(ip.src(), ip.dst(), seg) {
		return r.failf("bad TCP checksum: %s", r.describe(got))
	}
	w := want.TCP
	mismatch := func(what string, wantV, gotV any) error {
		return r.failf("%s: expected %v, got %v: %s", what, wantV, gotV, r.describe(got))
	}

	// Ports: learn the stack's ephemeral port from its SYN on an active
	// open; afterwards every segment must use the connection's ports.
	if seg.flags()&FlagSYN != 0 && seg.flags()&FlagACK == 0 {
		r.flow.localPort = seg.srcPort()
	}
	if seg.srcPort() != r.flow.localPort || seg.dstPort() != r.flow.remotePort {
		return mismatch("ports", fmt.Sprintf("%d > %d", r.flow.localPort, r.flow.remotePort), fmt.Sprintf("%d > %d", seg.srcPort(), seg.dstPort()))
	}
	// RFC 9293 section 3.4.1: a SYN carries the ISN; later numbers of the
	// connection count from it. It is learned before the other checks so
	// that a failure message shows relative numbers.
	if w.Flags&FlagSYN != 0 && seg.flags()&FlagSYN != 0 && w.SeqMode == SeqRelative {
		r.flow.localISN = seg.seq() - w.Seq
		r.flow.tsKnown = false
	}
	if seg.flags() != w.Flags {
		return mismatch("flags", FlagString(w.Flags), FlagString(seg.flags()))
	}
	// Before the stack has sent a SYN its ISN counts as 0, as in
	// packetdrill: a RST answering "< . 17:17(0) ack 34" to a closed port
	// then reads "> R 34:34(0)", since the inbound ack went out raw too.
	switch w.SeqMode {
	case SeqRelative:
		if seg.seq() != r.flow.localISN+w.Seq {
			return mismatch("seq", w.Seq, seg.seq()-r.flow.localISN)
		}
	case SeqAbsolute:
		if seg.seq() != w.Seq {
			return mismatch("absolute seq", w.Seq, seg.seq())
		}
	}
	if seg.payloadLen() != int(w.Len) {
		return mismatch("payload length", w.Len, seg.payloadLen())
	}
	if w.Flags&FlagACK != 0 && seg.ack() != r.opts.RemoteISN+w.Ack {
		return mismatch("ack", w.Ack, seg.ack()-r.opts.RemoteISN)
	}
	if w.Window >= 0 && int32(seg.window()) != w.Window {
		return mismatch("window", w.Window, seg.window())
	}
	if (w.Urgent != 0 || w.Flags&FlagURG != 0) && seg.urgent() != w.Urgent {
		return mismatch("urgent pointer", w.Urgent, seg.urgent())
	}
	if w.AnyOptions {
		return nil
	}
	return r.matchOptions(w, seg.options(), got)
}

// matchIP checks the TOS byte, ECN codepoint and TTL the script states.
func (r *runner) matchIP(want IPInfo, ip ipv4View) error {
	switch want.TOSCheck {
	case TOSCheckFull:
		if ip.tos() != want.TOS {
			return r.failf("TOS: expected 0x%02x, got 0x%02x", want.TOS, ip.tos())
		}
	case TOSCheckECN:
		if ip.tos()&3 != want.TOS {
			return r.failf("ECN codepoint: expected %s, got %s", ecnName(want.TOS), ecnName(ip.tos()&3))
		}
	case TOSCheckECT01:
		if e := ip.tos() & 3; e != uint8(ECT0) && e != uint8(ECT1) {
			return r.failf("ECN codepoint: expected ect0 or ect1, got %s", ecnName(e))
		}
	}
	if want.TTL != 0 && ip.ttl() != want.TTL {
		return r.failf("TTL: expected %d, got %d", want.TTL, ip.ttl())
	}
	return nil
}

func ecnName(e uint8) string { return [...]string{"noecn", "ect1", "ect0", "ce"}[e&3] }

// matchOptions compares option bytes exactly, except for the TS value,
// which follows the stack's own clock (RFC 7323 section 5.4): its offset
// from the script's value is learned on the SYN and not checked, as
// packetdrill does without --tcp_ts_tick_usecs.
func (r *runner) matchOptions(w *TCPSegment, gotOpts, pkt []byte) error {
	want, err := encodeOptions(w.Options, nil)
	if err != nil {
		return r.unsupportedf("%v", err)
	}
	wantTS, gotTS := findTimestamp(want), findTimestamp(gotOpts)
	var scriptVal [4]byte
	if wantTS >= 0 && wantTS == gotTS {
		copy(scriptVal[:], want[wantTS:])
		copy(want[wantTS:wantTS+4], gotOpts[gotTS:gotTS+4])
	}
	if string(want) != string(gotOpts) {
		if wantTS >= 0 && wantTS == gotTS {
			copy(want[wantTS:], scriptVal[:]) // show the script's own value
		}
		return r.failf("options: expected %s, got %s: %s", formatOptions(want, nil), r.formatSentOptions(gotOpts), r.describe(pkt))
	}
	r.learnTimestamp(w, gotOpts)
	return nil
}

// formatSentOptions renders the options of a packet from the stack. Its
// TS value is shown on the script's scale once the offset is known, and
// as "..." before: the raw value is random (RFC 7323 section 7.1), and
// showing it would make every message differ from run to run.
func (r *runner) formatSentOptions(b []byte) string {
	return formatOptions(b, func(o *TCPOption) {
		if r.flow.tsKnown {
			o.TSVal -= r.flow.tsOffset
		} else {
			o.TSValIgnored = true
		}
	})
}

// learnTimestamp records the offset between the stack's TS values and the
// script's the first time both are seen.
func (r *runner) learnTimestamp(w *TCPSegment, gotOpts []byte) {
	if r.flow.tsKnown {
		return
	}
	at := findTimestamp(gotOpts)
	if at < 0 {
		return
	}
	for _, o := range w.Options {
		if o.Kind == OptTimestamp && !o.TSValIgnored {
			r.flow.tsOffset = binary.BigEndian.Uint32(gotOpts[at:]) - o.TSVal
			r.flow.tsKnown = true
		}
	}
}

// describe renders a packet from the stack in script syntax, with sequence
// and acknowledgment numbers relative to the known ISNs.
func (r *runner) describe(pkt []byte) string {
	ip, err := parseIPv4(pkt)
	if err != nil {
		return fmt.Sprintf("(malformed: %v)", err)
	}
	var b strings.Builder
	b.WriteString(">")
	if ip.tos() != 0 {
		fmt.Fprintf(&b, " (tos 0x%02x)", ip.tos())
	}
	if ip.protocol() != protoTCP {
		fmt.Fprintf(&b, " IP protocol %d, %d bytes", ip.protocol(), len(pkt))
		return b.String()
	}
	seg, err := parseTCP(ip.payload())
	if err != nil {
		return fmt.Sprintf("(malformed TCP: %v)", err)
	}
	// Ports are shown only when they are not the connection's: they are
	// usually ephemeral and would make messages differ from run to run.
	if seg.srcPort() != r.flow.localPort || seg.dstPort() != r.flow.remotePort {
		fmt.Fprintf(&b, " %d > %d", seg.srcPort(), seg.dstPort())
	}
	seq := seg.seq() - r.flow.localISN
	n := uint32(seg.payloadLen())
	if seg.flags()&FlagSYN != 0 && seq != 0 {
		// A SYN from a connection whose ISN the runner has not learned:
		// its number is arbitrary (RFC 6528), so it is not shown.
		fmt.Fprintf(&b, " %s ...(%d)", FlagString(seg.flags()), n)
	} else {
		fmt.Fprintf(&b, " %s %d:%d(%d)", FlagString(seg.flags()), seq, seq+n, n)
	}
	if seg.flags()&FlagACK != 0 {
		fmt.Fprintf(&b, " ack %d", seg.ack()-r.opts.RemoteISN)
	}
	fmt.Fprintf(&b, " win %d", seg.window())
	if len(seg.options()) > 0 {
		b.WriteString(" " + r.formatSentOptions(seg.options()))
	}
	return b.String()
}
