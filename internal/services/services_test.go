package services

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tundra-net/tundra/http"
	"github.com/tundra-net/tundra/link/pipe"
	"github.com/tundra-net/tundra/stack"
	"github.com/tundra-net/tundra/tls"
)

// pair returns a client stack and a server stack running the services,
// joined by an in-memory pipe.
func pair(t *testing.T) (*stack.Stack, *Running) {
	t.Helper()
	ea, eb := pipe.New(pipe.Options{})
	client, err := stack.New(ea, stack.Options{Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	server, err := stack.New(eb, stack.Options{Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.2")}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Start(server, Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(); client.Close(); server.Close() })
	return client, r
}

func TestTCPServices(t *testing.T) {
	client, _ := pair(t)
	// echo
	c, err := client.Dial("tcp", "198.18.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("echo "), 10000)
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %v", err)
	}
	c.Close()
	// discard: everything is taken, nothing comes back.
	c, err = client.Dial("tcp", "198.18.0.2:9")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.(*stack.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(got); n != 0 || err != io.EOF {
		t.Fatalf("discard answered: %d %v", n, err)
	}
	c.Close()
	// chargen: lines of 72 characters, each starting one further along.
	c, err = client.Dial("tcp", "198.18.0.2:19")
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]byte, 74*3)
	if _, err := io.ReadFull(c, lines); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// RFC 864's example: the first line is the 72 characters from ' ' to
	// 'g', the second the 72 from '!' to 'h'.
	want := " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n" +
		"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n"
	if !bytes.HasPrefix(lines, []byte(want)) {
		t.Fatalf("chargen: %q", lines[:148])
	}
}

func TestHTTPAndHTTPS(t *testing.T) {
	client, r := pair(t)
	hc := &http.Client{DialContext: client.DialContext}
	resp, err := hc.Get("http://198.18.0.2/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello, world\n" {
		t.Fatalf("GET /: %q", body)
	}
	resp, err = hc.Get("http://198.18.0.2/bytes/100000")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(body) != 100000 {
		t.Fatalf("GET /bytes/100000: %d bytes", len(body))
	}
	// HTTPS: trust the CA the services made.
	d := &tls.Dialer{NetDialContext: client.DialContext, Config: &tls.Config{RootCAs: r.CA.Pool()}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", "198.18.0.2:443")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: 198.18.0.2\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	all, _ := io.ReadAll(conn)
	if !bytes.HasSuffix(all, []byte("\r\n\r\nhello, world\n")) {
		t.Fatalf("HTTPS GET: %q", all)
	}
	var _ net.Conn = conn
}
