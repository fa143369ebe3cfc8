//go:build linux

package tun_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	t          testing.TB
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

	c, conn := handshake(t, ns, ep, 5001)
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
						if len(s.Data) > ep.MTU() || checksum(s.Data[:20]) != 0 || transportChecksumOf(s.Data) != 0 {
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
				if err := gso.CompleteChecksum(d, off); err != nil || transportChecksumOf(d) != 0 {
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
		// 2b: a super-packet with CWR, whose header carries the ECN bit
		// (encodeVnetHdr): the kernel takes it too.
		data = bytes.Repeat([]byte{'e'}, 5000)
		c.write(c.segment(0x18|0x80, data, nil), link.Offload{GSOType: link.GSOTCPv4, GSOSize: 1000})
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

// handshake has the kernel connect from inside ns to the stack's address
// and port, answers for the stack by hand, and returns both ends. The
// kernel's socket is closed when the test ends.
func handshake(tb testing.TB, ns *netnstest.NS, ep *tun.Endpoint, port uint16) (*handTCP, net.Conn) {
	tb.Helper()
	dialed := make(chan net.Conn, 1)
	go func() {
		var conn net.Conn
		err := ns.Do(func() error {
			var err error
			conn, err = net.DialTimeout("tcp4", netip.AddrPortFrom(stackAddr, port).String(), 5*time.Second)
			return err
		})
		if err != nil {
			tb.Error(err)
		}
		dialed <- conn
	}()
	c := &handTCP{t: tb, ep: ep}
	c.accept(port)
	conn := <-dialed
	if conn == nil {
		tb.FailNow()
	}
	tb.Cleanup(func() { conn.Close() })
	return c, conn
}

// BenchmarkTUNSendTCP measures what TSO saves a stack that sends bulk TCP
// data, the "down" workload: each iteration sends 41 MSS-sized segments
// (59,860 bytes, inside the kernel's initial window) to a kernel socket
// over a hand-made connection, and waits until the kernel's reader has
// them all. "segments" writes 41 packets in one WritePackets batch, each
// with its own sequence number and checksum, as the stack does today;
// "super-packet" writes one GSOTCPv4 packet with a partial checksum and
// lets the kernel cut it. Both pay the same wait for the kernel, so the
// difference is the per-packet cost on our side and in tun_get_user.
func BenchmarkTUNSendTCP(b *testing.B) {
	for _, mode := range []string{"segments", "super-packet"} {
		b.Run(mode, func(b *testing.B) {
			ns := netnstest.New(b)
			ep := ns.OpenTUN("", tun.Options{})
			c, conn := handshake(b, ns, ep, 5002)
			const segs = 41
			// The reader reports each read, so that the loop below blocks
			// (and the CPU is free for the kernel's softirq) while it waits.
			var received atomic.Int64
			progress := make(chan struct{}, 1)
			go func() {
				buf := make([]byte, 256<<10)
				for {
					n, err := conn.Read(buf)
					received.Add(int64(n))
					select {
					case progress <- struct{}{}:
					default:
					}
					if err != nil {
						return
					}
				}
			}()
			// The kernel's ACKs queue up on the TUN; drain them so that
			// its queue never fills. Close ends the drain.
			go func() {
				in := make([]link.Packet, 64)
				for i := range in {
					in[i].Data = make([]byte, 0, ep.MaxPacketSize())
				}
				for {
					if _, err := ep.ReadPackets(in); err != nil {
						return
					}
				}
			}()
			data := bytes.Repeat([]byte{'d'}, segs*handMSS)
			super := c.segment(0x18, data, nil)
			plain := make([]link.Packet, segs)
			for i := range plain {
				plain[i].Data = c.segment(0x10, data[:handMSS], nil)
			}
			one := make([]link.Packet, 1)
			tick := time.NewTicker(time.Second) // bounds each wait to about 5s
			defer tick.Stop()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			sent := int64(0)
			for b.Loop() {
				if mode == "segments" {
					for i := range plain {
						p := plain[i].Data
						binary.BigEndian.PutUint32(p[24:], c.sndNxt+uint32(i*handMSS))
						off, _ := gso.SetPartialChecksum(p)
						gso.CompleteChecksum(p, off)
					}
					if _, err := ep.WritePackets(plain); err != nil {
						b.Fatal(err)
					}
				} else {
					binary.BigEndian.PutUint32(super[24:], c.sndNxt)
					off, _ := gso.SetPartialChecksum(super)
					off.GSOType, off.GSOSize = link.GSOTCPv4, handMSS
					one[0] = link.Packet{Data: super, Offload: off}
					if _, err := ep.WritePackets(one); err != nil {
						b.Fatal(err)
					}
				}
				c.sndNxt += uint32(len(data))
				sent += int64(len(data))
				for waited := 0; received.Load() < sent; {
					select {
					case <-progress:
					case <-tick.C:
						if waited++; waited > 5 {
							b.Fatalf("the kernel received %d of %d bytes", received.Load(), sent)
						}
					}
				}
			}
		})
	}
}

// transportChecksumOf sums an IPv4 TCP or UDP packet's pseudo-header and
// transport header and data, checksum field included: 0 when the checksum
// is right.
func transportChecksumOf(p []byte) uint16 {
	ihl := int(p[0]&0x0f) * 4
	l4 := p[ihl:]
	pseudo := make([]byte, 12, 12+len(l4))
	copy(pseudo, p[12:20])
	pseudo[9] = p[9]
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(l4)))
	return checksum(append(pseudo, l4...))
}

// TestOffloadFallback makes TUNSETOFFLOAD fail, as it does on kernels
// without TSO for TUN or USO4 (before 6.2), and checks that Open goes on
// with what is left: without USO4, then without offloads at all, with
// packets still read correctly (no header misread as packet bytes).
func TestOffloadFallback(t *testing.T) {
	ns := netnstest.New(t)

	// This kernel has USO4: asked for, it is on.
	ep, err := openInside(ns, "uso0", tun.Options{UDPSegmentation: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := (link.Offloads{TSO4: true, USO4: true, Checksum: true}); ep.Offloads() != want {
		t.Errorf("with UDPSegmentation: Offloads %+v, want %+v", ep.Offloads(), want)
	}
	ep.Close()

	// A kernel that refuses TUN_F_USO4 keeps TSO4 and checksums.
	restore := tun.SetOffloadIoctl(func(fd, flags int) error {
		if flags&unix.TUN_F_USO4 != 0 {
			return unix.EINVAL
		}
		return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, flags)
	})
	ep, err = openInside(ns, "uso1", tun.Options{UDPSegmentation: true})
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if want := (link.Offloads{TSO4: true, Checksum: true}); ep.Offloads() != want {
		t.Errorf("USO4 refused: Offloads %+v, want %+v", ep.Offloads(), want)
	}
	ep.Close()

	// A kernel that refuses offloads entirely: a plain device, which works.
	restore = tun.SetOffloadIoctl(func(fd, flags int) error { return unix.EINVAL })
	plain := ns.OpenTUN("", tun.Options{})
	restore()
	if plain.Offloads() != (link.Offloads{}) || plain.MaxPacketSize() != 1500 {
		t.Fatalf("TUNSETOFFLOAD refused: Offloads %+v MaxPacketSize %d; want none and the MTU", plain.Offloads(), plain.MaxPacketSize())
	}
	conn := dialUDPInside(t, ns)
	if _, err := conn.Write([]byte("after the fallback")); err != nil {
		t.Fatal(err)
	}
	r := readWithin(t, plain, 4, 5*time.Second)
	if r.err != nil || r.n != 1 {
		t.Fatalf("ReadPackets = %d, %v", r.n, r.err)
	}
	checkUDP(t, r.pkts[0].Data, []byte("after the fallback"))
	if r.pkts[0].Offload != (link.Offload{}) {
		t.Fatalf("a plain device delivered Offload %+v", r.pkts[0].Offload)
	}
}

// TestUSOFromKernel has a kernel UDP socket send one 3,500-byte write with
// UDP_SEGMENT 1000 (a UDP super-packet) through a TUN opened with
// UDPSegmentation: it must arrive as one GSOUDPL4 packet that gso.Split
// cuts into the four datagrams the socket meant.
func TestUSOFromKernel(t *testing.T) {
	ns := netnstest.New(t)
	ep := ns.OpenTUN("", tun.Options{UDPSegmentation: true})
	if !ep.Offloads().USO4 {
		t.Skip("this kernel has no USO for TUN (Linux 6.2 and later)")
	}
	conn := dialUDPInside(t, ns)
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT, 1000) })
	if serr != nil {
		t.Skipf("UDP_SEGMENT: %v", serr)
	}
	sent := bytes.Repeat([]byte("0123456789"), 350)
	if _, err := conn.Write(sent); err != nil {
		t.Fatal(err)
	}
	r := readWithin(t, ep, 8, 5*time.Second)
	if r.err != nil || r.n != 1 {
		t.Fatalf("ReadPackets = %d, %v; want one super-packet", r.n, r.err)
	}
	p := r.pkts[0]
	if p.Offload.GSOType != link.GSOUDPL4 || p.Offload.GSOSize != 1000 || len(p.Data) != 20+8+len(sent) {
		t.Fatalf("got %d bytes with Offload %+v; want one GSOUDPL4 packet of %d bytes, GSOSize 1000", len(p.Data), p.Offload, 20+8+len(sent))
	}
	out := make([]link.Packet, 4)
	for i := range out {
		out[i].Data = make([]byte, 0, 1500)
	}
	n, err := gso.Split(p.Data, p.Offload, out)
	if err != nil || n != 4 {
		t.Fatalf("Split = %d, %v", n, err)
	}
	var got []byte
	for _, d := range out[:n] {
		checkUDP(t, d.Data, d.Data[28:]) // addressed to the stack, port 9
		if checksum(d.Data[:20]) != 0 || transportChecksumOf(d.Data) != 0 {
			t.Fatal("IPv4 or UDP checksum wrong after Split")
		}
		got = append(got, d.Data[28:]...)
	}
	if !bytes.Equal(got, sent) || len(out[3].Data) != 28+500 {
		t.Fatalf("datagrams carry %d bytes (last %d), want the 3500 sent as 1000+1000+1000+500", len(got), len(out[3].Data)-28)
	}
}
