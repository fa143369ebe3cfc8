package stack

import (
	"io"
	"testing"
)

// BenchmarkBulkOverPipe measures one-way bulk transfer between two stacks
// joined by link/pipe, each with its own pump: the whole data path (socket
// write, segmentation, IPv4, checksum, the link, demultiplexing,
// reassembly, ACKs, socket read) with no kernel involved.
func BenchmarkBulkOverPipe(b *testing.B) {
	a, s := stackPair(b, nil, Options{})
	c1, c2 := connPair(b, a, s)
	defer c1.Close()
	defer c2.Close()
	buf := make([]byte, 64<<10)
	done := make(chan error, 1)
	total := int64(b.N) * int64(len(buf))
	go func() {
		_, err := io.CopyN(io.Discard, c2, total)
		done <- err
	}()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c1.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConnectEchoClose measures connections per second: dial, one
// small echo, close.
func BenchmarkConnectEchoClose(b *testing.B) {
	a, s := stackPair(b, nil, Options{})
	l, err := s.Listen("tcp", ":7")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	msg := []byte("x")
	b.ReportAllocs()
	for range b.N {
		c, err := a.Dial("tcp", addrB.String()+":7")
		if err != nil {
			b.Fatal(err)
		}
		c.Write(msg)
		if _, err := io.ReadFull(c, msg); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
