package tun

import (
	"encoding/binary"
	"errors"

	"github.com/tundra-net/tundra/link"
)

// vnetHdrLen is the size of struct virtio_net_hdr, which precedes every
// packet on a TUN opened with IFF_VNET_HDR (include/uapi/linux/virtio_net.h).
//
//	u8  flags        VIRTIO_NET_HDR_F_*
//	u8  gso_type     VIRTIO_NET_HDR_GSO_*
//	u16 hdr_len      bytes of headers (IP + transport) in a super-packet
//	u16 gso_size     payload bytes per segment (the MSS for TCP)
//	u16 csum_start   where the partial checksum's coverage begins
//	u16 csum_offset  where, from csum_start, the checksum field is
//
// The 16-bit fields are in the host's byte order: a TUN device uses the
// legacy virtio layout unless TUNSETVNETLE/BE says otherwise.
const vnetHdrLen = 10

const (
	vnetFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	vnetFlagDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID

	vnetGSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	vnetGSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	vnetGSOUDPL4 = 5    // VIRTIO_NET_HDR_GSO_UDP_L4
	vnetGSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN: the super-packet carries CWR

	tcpFlagCWR = 0x80 // in the TCP header's flags byte (offset 13)
)

var (
	errVnetShort    = errors.New("tun: virtio_net_hdr shorter than 10 bytes")
	errVnetGSOType  = errors.New("tun: unsupported virtio_net_hdr gso_type")
	errVnetHeaders  = errors.New("tun: super-packet too short for its IPv4 and transport headers")
	errVnetChecksum = errors.New("tun: checksum offset lies outside the packet")
)

// decodeVnetHdr turns the virtio_net_hdr at the start of b into
// link.Offload. The ECN bit is accepted and dropped: the CWR flag it
// announces is in the packet's own TCP header.
func decodeVnetHdr(b []byte) (link.Offload, error) {
	if len(b) < vnetHdrLen {
		return link.Offload{}, errVnetShort
	}
	var off link.Offload
	switch b[1] &^ vnetGSOECN {
	case vnetGSONone:
		off.GSOType = link.GSONone
	case vnetGSOTCPv4:
		off.GSOType = link.GSOTCPv4
	case vnetGSOUDPL4:
		off.GSOType = link.GSOUDPL4
	default:
		return link.Offload{}, errVnetGSOType
	}
	if off.GSOType != link.GSONone {
		off.GSOSize = binary.NativeEndian.Uint16(b[4:6])
	}
	if b[0]&vnetFlagNeedsCsum != 0 {
		off.NeedsChecksum = true
		off.ChecksumStart = binary.NativeEndian.Uint16(b[6:8])
		off.ChecksumOffset = binary.NativeEndian.Uint16(b[8:10])
	}
	off.ChecksumValid = b[0]&vnetFlagDataValid != 0
	return off, nil
}

// encodeVnetHdr writes into b[:10] the virtio_net_hdr for pkt, an IPv4
// packet with offload metadata off. For a super-packet it computes hdr_len
// from the packet's IPv4 header length and, for TCP, its data offset (RFC
// 791 section 3.1, RFC 9293 section 3.1), because the kernel needs to know
// which bytes to repeat in every segment. A TCP super-packet with CWR also
// gets the ECN bit, which the kernel turns into SKB_GSO_TCP_ECN ("the tcp
// segment has CWR set"), as its own TCP marks such a packet: a device
// whose TSO would copy CWR into every segment (no NETIF_F_TSO_ECN) then
// leaves the cutting to the kernel's software GSO, which keeps CWR on the
// first segment only (RFC 3168 6.1.2: CWR goes on one new data packet).
func encodeVnetHdr(b []byte, pkt []byte, off link.Offload) error {
	if len(b) < vnetHdrLen {
		return errVnetShort
	}
	clear(b[:vnetHdrLen])
	var hdrLen int
	cwr := false
	switch off.GSOType {
	case link.GSONone:
	case link.GSOTCPv4, link.GSOUDPL4:
		if len(pkt) < 20 {
			return errVnetHeaders
		}
		hdrLen = int(pkt[0]&0x0f) * 4
		if hdrLen < 20 {
			return errVnetHeaders
		}
		if off.GSOType == link.GSOTCPv4 {
			if len(pkt) < hdrLen+20 {
				return errVnetHeaders
			}
			dataOffset := int(pkt[hdrLen+12]>>4) * 4
			if dataOffset < 20 {
				return errVnetHeaders
			}
			cwr = pkt[hdrLen+13]&tcpFlagCWR != 0
			hdrLen += dataOffset
		} else {
			hdrLen += 8
		}
		if hdrLen > len(pkt) {
			return errVnetHeaders
		}
		b[1] = vnetGSOTCPv4
		if off.GSOType == link.GSOUDPL4 {
			b[1] = vnetGSOUDPL4
		} else if cwr {
			b[1] |= vnetGSOECN
		}
		binary.NativeEndian.PutUint16(b[2:4], uint16(hdrLen))
		binary.NativeEndian.PutUint16(b[4:6], off.GSOSize)
	default:
		return errVnetGSOType
	}
	if off.NeedsChecksum {
		if int(off.ChecksumStart)+int(off.ChecksumOffset)+2 > len(pkt) {
			return errVnetChecksum
		}
		b[0] |= vnetFlagNeedsCsum
		binary.NativeEndian.PutUint16(b[6:8], off.ChecksumStart)
		binary.NativeEndian.PutUint16(b[8:10], off.ChecksumOffset)
	}
	if off.ChecksumValid {
		b[0] |= vnetFlagDataValid
	}
	return nil
}
