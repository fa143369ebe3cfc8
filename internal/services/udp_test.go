package services

import (
	"bytes"
	"testing"
	"time"
)

// TestUDPEcho: the registered UDP echo answers datagrams on port 7, small
// and fragmented, and stops with the other services.
func TestUDPEcho(t *testing.T) {
	client, r := pair(t)
	c, err := client.Dial("udp", "198.18.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 65536)
	for _, size := range []int{5, 1472, 30000} {
		msg := bytes.Repeat([]byte{byte(size)}, size)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("echo of %d bytes: %d back, %v", size, n, err)
		}
	}
	r.Stop()
	// Closed: the port now answers with ICMP port unreachable.
	c.Write([]byte("still there?"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Error("echo answered after Stop")
	}
}
