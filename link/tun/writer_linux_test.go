//go:build linux

package tun_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/link/tun/netnstest"
)

// udpToKernel returns n complete UDP datagrams (RFC 768) of size bytes in
// all, from the stack's address to the kernel's port 9.
func udpToKernel(n, size int) []link.Packet {
	pkts := make([]link.Packet, n)
	for i := range pkts {
		p := make([]byte, size)
		p[0], p[8], p[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(p[2:], uint16(size))
		binary.BigEndian.PutUint16(p[4:], uint16(i))
		copy(p[12:16], stackAddr.AsSlice())
		copy(p[16:20], netip.MustParseAddr(netnstest.KernelAddr).AsSlice())
		binary.BigEndian.PutUint16(p[10:], checksum(p[:20]))
		binary.BigEndian.PutUint16(p[20:], 40000)
		binary.BigEndian.PutUint16(p[22:], 9)
		binary.BigEndian.PutUint16(p[24:], uint16(size-20))
		// Checksum 0: none (RFC 768), so the kernel takes it as it is.
		pkts[i].Data = p
	}
	return pkts
}

// BenchmarkTUNWrite asks whether a dedicated writer goroutine with a queue
// makes writing faster than writing on the caller's goroutine. "direct"
// calls WritePackets with each 32-packet batch; "queued" does what such a
// writer must do under link.Endpoint's contract (the caller may reuse its
// buffers once WritePackets returns): copy the batch into a queue slot and
// hand it to a goroutine that writes it. The kernel takes the datagrams on
// a socket bound to port 9 that nobody reads, so it drops them cheaply
// once the socket buffer is full. pkts/s is the caller's rate; the queued
// variant's last (at most 8) batches are written after the clock stops,
// which is negligible against b.N batches.
func BenchmarkTUNWrite(b *testing.B) {
	for _, mode := range []string{"direct", "queued"} {
		b.Run(mode, func(b *testing.B) {
			ns := netnstest.New(b)
			ep := ns.OpenTUN("", tun.Options{})
			err := ns.Do(func() error {
				c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(netnstest.KernelAddr+":9")))
				if err == nil {
					b.Cleanup(func() { c.Close() })
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			batch := udpToKernel(32, 1400)
			b.ReportAllocs()
			if mode == "direct" {
				for b.Loop() {
					if _, err := ep.WritePackets(batch); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				benchmarkQueuedWriter(b, ep, batch)
			}
			b.ReportMetric(float64(len(batch)*b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

func benchmarkQueuedWriter(b *testing.B, ep *tun.Endpoint, batch []link.Packet) {
	const slots = 8
	free := make(chan []link.Packet, slots)
	for range slots {
		s := make([]link.Packet, len(batch))
		for i := range s {
			s[i].Data = make([]byte, 0, ep.MTU())
		}
		free <- s
	}
	queue := make(chan []link.Packet, slots)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range queue {
			ep.WritePackets(s)
			free <- s
		}
	}()
	for b.Loop() {
		s := <-free
		for i := range batch {
			s[i].Data = append(s[i].Data[:0], batch[i].Data...)
		}
		queue <- s
	}
	close(queue)
	<-done
}
