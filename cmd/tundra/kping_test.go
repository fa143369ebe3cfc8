package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tundra-net/tundra/internal/netns"
	"github.com/tundra-net/tundra/link/tun"
	"github.com/tundra-net/tundra/stack"
)

// TestKernelPingFallback: on a machine without iputils-ping the demo pings
// from the kernel's side through its own raw ICMP socket; every echo gets
// its reply.
func TestKernelPingFallback(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("kernel ping fallback: %v", err)
	}
	ns, err := netns.Create(fmt.Sprintf("tundra-kping-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Delete()
	if err := ns.AddTUN("tun0", "198.18.0.1/24", 1500); err != nil {
		t.Fatal(err)
	}
	var ep *tun.Endpoint
	if err := ns.Do(func() error { var err error; ep, err = tun.Open("tun0", tun.Options{}); return err }); err != nil {
		t.Fatal(err)
	}
	st, err := stack.New(ep, stack.Options{Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.2")}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kernelPing(ctx, ns, "198.18.0.2", 3, 10*time.Millisecond, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "3 packets transmitted, 3 received") {
		t.Fatalf("output:\n%s", out.String())
	}
	if got := st.Stats().ICMP.OutEchoReps; got != 3 {
		t.Errorf("stack answered %d echo requests, want 3", got)
	}
}
