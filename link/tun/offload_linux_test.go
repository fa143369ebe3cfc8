//go:build linux

package tun_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/gso"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/link/tun/netnstest"
)

// handTCP is the stack side of one TCP connection played by hand, enough
// to let the kernel send and receive bulk data over a TUN: it answers the
// kernel's SYN, acknowledges in-order data, and sends what the test asks.
// It offers an MSS of 1460 and no window scaling, timestamps or SACK, so
// that every segment has a 20-byte TCP header.
type handTCP struct {
	t          *testing.T
	ep         *tun.Endpoint
	kernelPort uint16
	ourPort    uint16
	sndNxt     uint32 // our next sequence number
	rcvNxt     uint32 // the kernel's next sequence number we expect
	ipID       uint16
}

const handMSS = 1460

// segment builds a TCP segment from the stack's address to the kernel's,
// with complete checksums.
func (c *handTCP) segment(flags byte, payload []byte, options []byte) []byte {
	p := make([]byte, 20+20+len(options)+len(payload))
	p[0], p[8], p[9] = 0x45, 64, 6
	p[6] = 0x40 // DF
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	c.ipID++
	binary.BigEndian.PutUint16(p[4:], c.ipID)
	copy(p[12:16], stackAddr.AsSlice())
	copy(p[16:20], netip.MustParseAddr(netnstest.KernelAddr).AsSlice())
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20]))
	h := p[20:]
	binary.BigEndian.PutUint16(h[0:], c.ourPort)
	binary.BigEndian.PutUint16(h[2:], c.kernelPort)
	binary.BigEndian.PutUint32(h[4:], c.sndNxt)
	binary.BigEndian.PutUint32(h[8:], c.rcvNxt)
	h[12] = byte(5+len(options)/4) << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	copy(h[20:], options)
	copy(h[20+len(options):], payload)
	binary.BigEndian.PutUint16(h[16:], tcpChecksum(p))
	return p
}

// tcpChecksum computes the TCP checksum of an IPv4 packet whose checksum
// field is zero (RFC 9293 section 3.1).
func tcpChecksum(p []byte) uint16 {
	l4 := p[20:]
	pseudo := make([]byte, 12, 12+len(l4))
	copy(pseudo, p[12:20])
	pseudo[9] = 6
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(l4)))
	return checksum(append(pseudo, l4...))
}

func (c *handTCP) write(p []byte, off link.Offload) {
	c.t.Helper()
	if n, err := c.ep.WritePackets([]link.Packet{{Data: p, Offload: off}}); n != 1 || err != nil {
		c.t.Fatalf("WritePackets = %d, %v", n, err)
	}
}

// accept waits for the kernel's SYN to port and answers it.
func (c *handTCP) accept(port uint16) {
	c.t.Helper()
	for {
		r := readWithin(c.t, c.ep, 8, 5*time.Second)
		for _, p := range r.pkts[:r.n] {
			d := p.Data
			if len(d) < 40 || d[9] != 6 || binary.BigEndian.Uint16(d[22:]) != port || d[33]&0x02 == 0 {
				continue // not a SYN to port
			}
			c.ourPort, c.kernelPort = port, binary.BigEndian.Uint16(d[20:])
			c.rcvNxt = binary.BigEndian.Uint32(d[24:]) + 1
			c.sndNxt = 0x7475_0000
			mss := []byte{2, 4, handMSS >> 8, handMSS & 0xff}
			c.write(c.segment(0x12, nil, mss), link.Offload{}) // SYN|ACK
			c.sndNxt++
			return
		}
	}
}

// TestOffloadsAgainstKernel is the check that the virtio_net_hdr handling
// matches what Linux does. The kernel's TCP connects through a TUN opened
// with offloads to a connection played by hand, sends 512 KiB, and must
// do so in GSO super-packets whose metadata (GSO type, MSS, partial
// checksum offsets) is what the kernel's own segmentation would use; then
// super-packets written to the TUN, with a partial checksum and with a
// complete one, must reach the kernel's socket intact.
func TestOffloadsAgainstKernel(t *testing.T) {
	ns := netnstest.New(t)
	ep := ns.OpenTUN("", tun.Options{})
	if want := (link.Offloads{TSO4: true, Checksum: true}); ep.Offloads() != want {
		t.Fatalf("Offloads = %+v, want %+v", ep.Offloads(), want)
	}
	if ep.MaxPacketSize() != 65535 || ep.MTU() != 1500 {
		t.Fatalf("MaxPacketSize %d MTU %d", ep.MaxPacketSize(), ep.MTU())
	}

	const port = 5001
	dialed := make(chan net.Conn, 1)
	go func() {
		var conn net.Conn
		err := ns.Do(func() error {
			var err error
			conn, err = net.DialTimeout("tcp4", netip.AddrPortFrom(stackAddr, port).String(), 5*time.Second)
			return err
		})
		if err != nil {
			t.Error(err)
		}
		dialed <- conn
	}()
	c := &handTCP{t: t, ep: ep}
	c.accept(port)
	conn := <-dialed
	if conn == nil {
		t.FailNow()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))

	t.Run("kernel sends super-packets", func(t *testing.T) {
		c.t = t
		sent := bytes.Repeat([]byte("tundra offloads "), 512<<10/16)
		go conn.Write(sent)
		var got []byte
		var superPackets, plain int
		segments := make([]link.Packet, 64)
		for i := range segments {
			segments[i].Data = make([]byte, 0, 1500)
		}
		deadline := time.Now().Add(15 * time.Second)
		for len(got) < len(sent) && time.Now().Before(deadline) {
			r := readWithin(t, ep, 16, 5*time.Second)
			if r.err != nil {
				t.Fatal(r.err)
			}
			for _, p := range r.pkts[:r.n] {
				d, off := p.Data, p.Offload
				if len(d) < 40 || d[9] != 6 || binary.BigEndian.Uint16(d[20:]) != c.kernelPort {
					continue
				}
				payload := d[40:]
				if len(payload) == 0 {
					continue
				}
				// The kernel leaves TCP checksums partial: the field holds
				// the pseudo-header sum over the whole super-packet's length.
				if !off.NeedsChecksum || !off.ChecksumValid || off.ChecksumStart != 20 || off.ChecksumOffset != 16 {
					t.Fatalf("data packet with Offload %+v; want a partial checksum at 20+16, marked valid", off)
				}
				if off.GSOType == link.GSOTCPv4 {
					superPackets++
					if off.GSOSize != handMSS || len(payload) <= handMSS {
						t.Fatalf("super-packet of %d payload bytes with GSOSize %d; want more than one MSS of %d", len(payload), off.GSOSize, handMSS)
					}
					// Cut it as the kernel would have: every segment must
					// fit the MTU and carry valid checksums.
					n, err := gso.Split(d, off, segments)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range segments[:n] {
						if len(s.Data) > ep.MTU() || checksum(s.Data[:20]) != 0 || tcpChecksumOf(s.Data) != 0 {
							t.Fatalf("split segment of %d bytes invalid", len(s.Data))
						}
					}
				} else {
					plain++
					if len(d) > ep.MTU() {
						t.Fatalf("plain packet of %d bytes, above the MTU", len(d))
					}
				}
				// Completing the partial checksum over the whole packet must
				// give a valid one.
				if err := gso.CompleteChecksum(d, off); err != nil || tcpChecksumOf(d) != 0 {
					t.Fatalf("completed checksum does not verify (%v)", err)
				}
				if binary.BigEndian.Uint32(d[24:]) != c.rcvNxt {
					continue // out of order or a retransmission; the ACK below asks again
				}
				got = append(got, payload...)
				c.rcvNxt += uint32(len(payload))
			}
			c.write(c.segment(0x10, nil, nil), link.Offload{}) // ACK
		}
		if !bytes.Equal(got, sent) {
			t.Fatalf("received %d bytes, want the %d sent, intact", len(got), len(sent))
		}
		if superPackets == 0 {
			t.Fatalf("no GSO super-packet among %d data packets", plain)
		}
		t.Logf("%d KiB in %d super-packets and %d plain packets", len(got)>>10, superPackets, plain)
	})

	t.Run("super-packets to the kernel", func(t *testing.T) {
		c.t = t
		var want []byte
		// 1: a super-packet with a partial checksum, as a stack using TSO
		// and checksum offload sends it.
		data := bytes.Repeat([]byte{'p'}, 20000)
		p := c.segment(0x18, data, nil)
		off, err := gso.SetPartialChecksum(p)
		if err != nil {
			t.Fatal(err)
		}
		off.GSOType, off.GSOSize = link.GSOTCPv4, handMSS
		c.write(p, off)
		c.sndNxt += uint32(len(data))
		want = append(want, data...)
		// 2: a super-packet with a complete checksum and no
		// NeedsChecksum; the kernel sets up the partial sum itself.
		data = bytes.Repeat([]byte{'c'}, 15000)
		c.write(c.segment(0x18, data, nil), link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1000})
		c.sndNxt += uint32(len(data))
		want = append(want, data...)
		// 3: an ordinary packet with a partial checksum.
		data = []byte("partial checksum, completed by the kernel")
		p = c.segment(0x18, data, nil)
		if off, err = gso.SetPartialChecksum(p); err != nil {
			t.Fatal(err)
		}
		c.write(p, off)
		c.sndNxt += uint32(len(data))
		want = append(want, data...)

		got := make([]byte, len(want))
		if _, err := io.ReadFull(conn, got); err != nil {
			t.Fatalf("kernel socket read: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("the kernel's socket received other bytes than the super-packets carried")
		}
	})
}

// tcpChecksumOf sums an IPv4 TCP packet's pseudo-header and segment,
// checksum field included: 0 when the checksum is right.
func tcpChecksumOf(p []byte) uint16 {
	ihl := int(p[0]&0x0f) * 4
	l4 := p[ihl:]
	pseudo := make([]byte, 12, 12+len(l4))
	copy(pseudo, p[12:20])
	pseudo[9] = 6
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(l4)))
	return checksum(append(pseudo, l4...))
}
