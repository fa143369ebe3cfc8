package packetdrill

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// This file holds the little wire code the runner needs: read-only views
// of the IPv4 and TCP headers the stack sends (a length check once, then
// accessors that cannot panic, no allocation), and builders for the
// packets a script injects. It stands alone so that the runner does not
// depend on the stack's own wire packages, which it is meant to check.

const (
	ipv4HeaderLen = 20
	tcpHeaderLen  = 20
	protoICMP     = 1
	protoTCP      = 6
	protoUDP      = 17
)

// ipv4View is a checked view of an IPv4 packet (RFC 791 section 3.1).
type ipv4View []byte

func parseIPv4(b []byte) (ipv4View, error) {
	if len(b) < ipv4HeaderLen {
		return nil, fmt.Errorf("IPv4 packet of %d bytes is shorter than a header", len(b))
	}
	if b[0]>>4 != 4 {
		return nil, fmt.Errorf("IP version %d, want 4", b[0]>>4)
	}
	ihl := int(b[0]&0xf) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < ipv4HeaderLen || total < ihl || total > len(b) {
		return nil, fmt.Errorf("IPv4 header length %d / total length %d do not fit %d bytes", ihl, total, len(b))
	}
	return ipv4View(b[:total]), nil
}

func (v ipv4View) headerLen() int   { return int(v[0]&0xf) * 4 }
func (v ipv4View) tos() uint8       { return v[1] }
func (v ipv4View) ttl() uint8       { return v[8] }
func (v ipv4View) protocol() uint8  { return v[9] }
func (v ipv4View) src() netip.Addr  { return netip.AddrFrom4([4]byte(v[12:16])) }
func (v ipv4View) dst() netip.Addr  { return netip.AddrFrom4([4]byte(v[16:20])) }
func (v ipv4View) payload() []byte  { return v[v.headerLen():] }
func (v ipv4View) checksumOK() bool { return checksum(v[:v.headerLen()], 0) == 0 }

// tcpView is a checked view of a TCP segment (RFC 9293 section 3.1).
type tcpView []byte

func parseTCP(b []byte) (tcpView, error) {
	if len(b) < tcpHeaderLen {
		return nil, fmt.Errorf("TCP segment of %d bytes is shorter than a header", len(b))
	}
	off := int(b[12]>>4) * 4
	if off < tcpHeaderLen || off > len(b) {
		return nil, fmt.Errorf("TCP data offset %d does not fit %d bytes", off, len(b))
	}
	return tcpView(b), nil
}

func (t tcpView) srcPort() uint16 { return binary.BigEndian.Uint16(t[0:2]) }
func (t tcpView) dstPort() uint16 { return binary.BigEndian.Uint16(t[2:4]) }
func (t tcpView) seq() uint32     { return binary.BigEndian.Uint32(t[4:8]) }
func (t tcpView) ack() uint32     { return binary.BigEndian.Uint32(t[8:12]) }
func (t tcpView) dataOffset() int { return int(t[12]>>4) * 4 }
func (t tcpView) flags() uint8    { return t[13] }
func (t tcpView) window() uint16  { return binary.BigEndian.Uint16(t[14:16]) }
func (t tcpView) urgent() uint16  { return binary.BigEndian.Uint16(t[18:20]) }
func (t tcpView) options() []byte { return t[tcpHeaderLen:t.dataOffset()] }
func (t tcpView) payloadLen() int { return len(t) - t.dataOffset() }

// checksum is the Internet checksum of RFC 1071 over b, starting from the
// partial sum initial; it returns the one's complement of the folded sum,
// so a buffer that includes a correct checksum field sums to 0.
func checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// pseudoHeaderSum is the unfolded sum of the IPv4 pseudo-header of RFC 9293
// section 3.1 (also used by UDP, RFC 768).
func pseudoHeaderSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	s, d := src.As4(), dst.As4()
	sum := uint32(binary.BigEndian.Uint16(s[0:2])) + uint32(binary.BigEndian.Uint16(s[2:4]))
	sum += uint32(binary.BigEndian.Uint16(d[0:2])) + uint32(binary.BigEndian.Uint16(d[2:4]))
	return sum + uint32(proto) + uint32(length)
}

// ipv4Fields are the header values the builder writes.
type ipv4Fields struct {
	src, dst netip.Addr
	tos, ttl uint8
	proto    uint8
	id       uint16
}

// buildIPv4 writes an IPv4 header in front of payload (with no options,
// DF set as stacks doing PMTU discovery do) and returns the packet.
func buildIPv4(f ipv4Fields, payload []byte) []byte {
	pkt := make([]byte, ipv4HeaderLen+len(payload))
	pkt[0] = 0x45
	pkt[1] = f.tos
	binary.BigEndian.PutUint16(pkt[2:4], uint16(len(pkt)))
	binary.BigEndian.PutUint16(pkt[4:6], f.id)
	binary.BigEndian.PutUint16(pkt[6:8], 0x4000)
	ttl := f.ttl
	if ttl == 0 {
		ttl = 64
	}
	pkt[8] = ttl
	pkt[9] = f.proto
	s, d := f.src.As4(), f.dst.As4()
	copy(pkt[12:16], s[:])
	copy(pkt[16:20], d[:])
	binary.BigEndian.PutUint16(pkt[10:12], checksum(pkt[:ipv4HeaderLen], 0))
	copy(pkt[ipv4HeaderLen:], payload)
	return pkt
}

// tcpFields are the header values the builder writes.
type tcpFields struct {
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8
	window, urgent   uint16
	options          []byte // a multiple of 4 bytes
	payloadLen       int
}

// buildTCP returns a TCP segment with a zero-filled payload and a correct
// checksum for the given addresses.
func buildTCP(src, dst netip.Addr, f tcpFields) []byte {
	hdr := tcpHeaderLen + len(f.options)
	seg := make([]byte, hdr+f.payloadLen)
	binary.BigEndian.PutUint16(seg[0:2], f.srcPort)
	binary.BigEndian.PutUint16(seg[2:4], f.dstPort)
	binary.BigEndian.PutUint32(seg[4:8], f.seq)
	binary.BigEndian.PutUint32(seg[8:12], f.ack)
	seg[12] = byte(hdr/4) << 4
	seg[13] = f.flags
	binary.BigEndian.PutUint16(seg[14:16], f.window)
	binary.BigEndian.PutUint16(seg[18:20], f.urgent)
	copy(seg[tcpHeaderLen:], f.options)
	binary.BigEndian.PutUint16(seg[16:18], checksum(seg, pseudoHeaderSum(src, dst, protoTCP, len(seg))))
	return seg
}

// tcpChecksumOK verifies the checksum of a segment carried between src
// and dst.
func tcpChecksumOK(src, dst netip.Addr, seg []byte) bool {
	return checksum(seg, pseudoHeaderSum(src, dst, protoTCP, len(seg))) == 0
}

// buildICMP returns an ICMP message (RFC 792) of the given type and code
// whose body quotes the start of the packet it reports, as an error
// message does: the IPv4 header and the first 8 bytes of its payload
// (RFC 792; RFC 1812 section 4.3.2.3 allows more). For "fragmentation
// needed" the next-hop MTU goes into bytes 6-7 (RFC 1191 section 4).
func buildICMP(typ, code uint8, mtu int, quoted []byte) []byte {
	n := len(quoted)
	if q, err := parseIPv4(quoted); err == nil && len(quoted) > q.headerLen()+8 {
		n = q.headerLen() + 8
	}
	msg := make([]byte, 8+n)
	msg[0], msg[1] = typ, code
	if mtu >= 0 {
		binary.BigEndian.PutUint16(msg[6:8], uint16(mtu))
	}
	copy(msg[8:], quoted[:n])
	binary.BigEndian.PutUint16(msg[2:4], checksum(msg, 0))
	return msg
}

// errOptionTooLong reports options that do not fit the 40 bytes a TCP
// header can hold.
var errOptionTooLong = errors.New("TCP options longer than 40 bytes")

// encodeOptions writes options in script order and pads the result with
// EOL bytes to a multiple of 4 (RFC 9293 section 3.1). tsEcr, when not
// nil, maps a script's TS ecr value to the value to send.
func encodeOptions(opts []TCPOption, tsEcr func(TCPOption) uint32) ([]byte, error) {
	var b []byte
	for _, o := range opts {
		switch o.Kind {
		case OptEOL:
			b = append(b, 0)
		case OptNOP:
			b = append(b, 1)
		case OptMSS:
			b = append(b, 2, 4, byte(o.MSS>>8), byte(o.MSS))
		case OptWScale:
			b = append(b, 3, 3, o.Shift)
		case OptSACKPermitted:
			b = append(b, 4, 2)
		case OptSACK:
			b = append(b, 5, byte(2+8*len(o.Blocks)))
			for _, blk := range o.Blocks {
				b = binary.BigEndian.AppendUint32(b, blk.Left)
				b = binary.BigEndian.AppendUint32(b, blk.Right)
			}
		case OptTimestamp:
			ecr := o.TSEcr
			if tsEcr != nil {
				ecr = tsEcr(o)
			}
			b = append(b, 8, 10)
			b = binary.BigEndian.AppendUint32(b, o.TSVal)
			b = binary.BigEndian.AppendUint32(b, ecr)
		case OptMD5:
			return nil, errors.New("TCP MD5 signatures (RFC 2385) are not supported by the runner")
		case OptFastOpen:
			b = append(b, 34, byte(2+len(o.Cookie)))
			b = append(b, o.Cookie...)
		}
	}
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	if len(b) > 40 {
		return nil, errOptionTooLong
	}
	return b, nil
}

// decodeOptions parses TCP option bytes for display. Padding after an EOL
// is shown as further EOLs, as scripts write it ("eol,eol").
func decodeOptions(b []byte) ([]TCPOption, error) {
	var opts []TCPOption
	for i := 0; i < len(b); {
		switch b[i] {
		case 0:
			opts = append(opts, TCPOption{Kind: OptEOL})
			i++
			continue
		case 1:
			opts = append(opts, TCPOption{Kind: OptNOP})
			i++
			continue
		}
		if i+1 >= len(b) || b[i+1] < 2 || i+int(b[i+1]) > len(b) {
			return opts, fmt.Errorf("malformed TCP option kind %d at offset %d", b[i], i)
		}
		kind, l := b[i], int(b[i+1])
		body := b[i+2 : i+l]
		switch {
		case kind == 2 && l == 4:
			opts = append(opts, TCPOption{Kind: OptMSS, MSS: binary.BigEndian.Uint16(body)})
		case kind == 3 && l == 3:
			opts = append(opts, TCPOption{Kind: OptWScale, Shift: body[0]})
		case kind == 4 && l == 2:
			opts = append(opts, TCPOption{Kind: OptSACKPermitted})
		case kind == 5 && (l-2)%8 == 0 && l > 2:
			o := TCPOption{Kind: OptSACK}
			for j := 0; j+8 <= len(body); j += 8 {
				o.Blocks = append(o.Blocks, SACKBlock{binary.BigEndian.Uint32(body[j:]), binary.BigEndian.Uint32(body[j+4:])})
			}
			opts = append(opts, o)
		case kind == 8 && l == 10:
			opts = append(opts, TCPOption{Kind: OptTimestamp, TSVal: binary.BigEndian.Uint32(body), TSEcr: binary.BigEndian.Uint32(body[4:])})
		case kind == 19 && l == 18:
			opts = append(opts, TCPOption{Kind: OptMD5, MD5: fmt.Sprintf("%x", body)})
		case kind == 34:
			opts = append(opts, TCPOption{Kind: OptFastOpen, Cookie: append([]byte(nil), body...)})
		default:
			return opts, fmt.Errorf("unknown TCP option kind %d length %d", kind, l)
		}
		i += l
	}
	return opts, nil
}

// formatOptions renders option bytes the way a script writes them. tsVal,
// if not nil, rewrites a timestamp option before it is shown.
func formatOptions(b []byte, tsVal func(*TCPOption)) string {
	if len(b) == 0 {
		return "no options"
	}
	opts, err := decodeOptions(b)
	parts := make([]string, len(opts))
	for i, o := range opts {
		if o.Kind == OptTimestamp && tsVal != nil {
			tsVal(&o)
		}
		parts[i] = o.String()
	}
	s := "<" + strings.Join(parts, ",") + ">"
	if err != nil {
		s += " (" + err.Error() + ")"
	}
	return s
}

// findTimestamp returns the offset of the timestamp option's value within
// option bytes, or -1.
func findTimestamp(b []byte) int {
	for i := 0; i < len(b); {
		switch b[i] {
		case 0:
			return -1
		case 1:
			i++
			continue
		}
		if i+1 >= len(b) || b[i+1] < 2 {
			return -1
		}
		if b[i] == 8 && b[i+1] == 10 && i+10 <= len(b) {
			return i + 2
		}
		i += int(b[i+1])
	}
	return -1
}
