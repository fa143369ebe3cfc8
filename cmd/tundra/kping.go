package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/tundra-net/tundra/internal/netns"
	"github.com/tundra-net/tundra/ipv4"
)

// kernelPing is a small ping(8) for machines without iputils-ping: it
// sends count ICMP echo requests from the kernel's side of the namespace to
// dst through a raw ICMP socket (root only, as the demo is) and prints each
// reply the way ping does.
func kernelPing(ctx context.Context, ns *netns.NS, dst string, count int, interval time.Duration, out io.Writer) error {
	var conn net.PacketConn
	if err := ns.Do(func() error {
		var err error
		conn, err = net.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	}); err != nil {
		return fmt.Errorf("raw ICMP socket: %w", err)
	}
	defer conn.Close()
	addr := &net.IPAddr{IP: net.ParseIP(dst)}
	ident := uint16(os.Getpid())
	data := make([]byte, 56)
	for i := range data {
		data[i] = byte(i)
	}
	fmt.Fprintf(out, "PING %s %d(%d) bytes of data. (tundra's own ping: iputils-ping is not installed)\n", dst, len(data), len(data)+28)
	req := make([]byte, ipv4.ICMPHeaderSize+len(data))
	buf := make([]byte, 2048)
	received := 0
	for seq := 1; seq <= count; seq++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n := ipv4.BuildEchoRequest(req, ident, uint16(seq), data)
		start := time.Now()
		if _, err := conn.WriteTo(req[:n], addr); err != nil {
			return err
		}
		conn.SetReadDeadline(start.Add(2 * time.Second))
		for {
			k, from, err := conn.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					fmt.Fprintf(out, "no answer yet for icmp_seq=%d\n", seq)
					break
				}
				return err
			}
			msg, err := ipv4.ParseICMP(buf[:k])
			if err != nil || msg.Type() != ipv4.ICMPEchoReply || msg.Ident() != ident || msg.Sequence() != uint16(seq) {
				continue // someone else's ICMP, or an old reply
			}
			received++
			fmt.Fprintf(out, "%d bytes from %s: icmp_seq=%d time=%.3f ms\n", k, from, seq,
				float64(time.Since(start).Microseconds())/1000)
			break
		}
		if seq < count {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(interval):
			}
		}
	}
	fmt.Fprintf(out, "--- %s ping statistics ---\n%d packets transmitted, %d received\n", dst, count, received)
	if received == 0 {
		return errors.New("no echo replies")
	}
	return nil
}
