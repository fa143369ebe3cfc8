package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tundra-net/tundra/link/tun/netnstest"
)

// `tundra serve` on a TUN in a namespace of the test's own: it answers the
// kernel's ping and echoes over TCP, stops when its context ends, and with
// -stats prints its counters; -busypoll off turns busy polling off, so no
// reader took packets from the link.
func TestServe(t *testing.T) {
	ns := netnstest.New(t)
	ns.Run("ip", "tuntap", "add", "dev", "tunb", "mode", "tun")
	ns.ConfigureTUN("tunb")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	go ns.Do(func() error {
		code <- serve(ctx, []string{"-tun", "tunb", "-addr", netnstest.StackAddr, "-busypoll", "off", "-stats"}, &stdout, &stderr)
		return nil
	})
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stdout.String(), "serving as"); time.Sleep(10 * time.Millisecond) {
		select {
		case c := <-code:
			t.Fatalf("serve exited %d before serving; stderr %q", c, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start in 10 s; stdout %q, stderr %q", stdout.String(), stderr.String())
		}
	}

	ns.Run("ping", "-c", "1", "-W", "2", netnstest.StackAddr)
	err := ns.Do(func() error {
		c, err := net.DialTimeout("tcp4", net.JoinHostPort(netnstest.StackAddr, "7"), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		for i := range 20 {
			msg := []byte{'e', 'c', 'h', 'o', byte('a' + i)}
			if _, err := c.Write(msg); err != nil {
				return err
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				return err
			}
			if !bytes.Equal(got, msg) {
				t.Errorf("echo %d: got %q, want %q", i, got, msg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("serve exited %d; stderr %q", c, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve still running 10 s after its context ended")
	}
	out := stdout.String()
	for _, want := range []string{"IcmpInEchos", "TcpPassiveOpens", "tundra: stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "BusyPollRxPackets") {
		t.Errorf("busy polling off, yet readers took packets from the link:\n%s", out)
	}
}

// serve refuses a missing -tun or a malformed -busypoll before it opens
// anything.
func TestServeRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "198.18.0.2"},
		{"-tun", "tunb", "-addr", "198.18.0.2", "-busypoll", "fast"},
		{"-tun", "tunb", "-addr", "198.18.0.2", "-busypoll", "-1us"},
		{"-tun", "tunb", "-addr", "not-an-address"},
	} {
		var stdout, stderr lockedBuffer
		if c := serve(context.Background(), args, &stdout, &stderr); c != 2 {
			t.Errorf("serve %q exited %d, want 2 (usage); stderr %q", args, c, stderr.String())
		}
	}
}
