// Package linktest checks link endpoints against the contracts that
// package link writes down, so that every endpoint in this module is held
// to the same ones by the same code.
package linktest

import (
	"errors"
	"testing"
	"time"

	"github.com/tundra-net/tundra/link"
)

// PollerEndpoint is an endpoint that can also be read without waiting.
type PollerEndpoint interface {
	link.Endpoint
	link.Poller
}

// Poller checks ep's link.Poller contract and returns a copy of the first
// packet it polled:
//
//   - with nothing queued, PollPackets returns 0 and nil at once;
//   - after queue has made a packet arrive for ep (at once or a little
//     later), WaitPackets returns, even when the packet came before the
//     wait began, and PollPackets takes it;
//   - a WaitPackets blocked when ep is closed returns link.ErrClosed, and
//     PollPackets after Close returns link.ErrClosed.
//
// Nothing else may be queued for ep meanwhile. Poller closes ep.
func Poller(t testing.TB, ep PollerEndpoint, queue func()) []byte {
	t.Helper()
	in := make([]link.Packet, 4)
	for i := range in {
		in[i].Data = make([]byte, 0, ep.MaxPacketSize())
	}
	if n, err := ep.PollPackets(in); n != 0 || err != nil {
		t.Fatalf("PollPackets with nothing queued = %d, %v; want 0, nil", n, err)
	}
	queue()
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no packet could be polled 5s after it was queued")
		}
		// Give the packet time to be queued before the wait begins: the
		// wait must see a packet that is already there.
		time.Sleep(5 * time.Millisecond)
		if err := waitWithin(ep, 5*time.Second); err != nil {
			t.Fatalf("WaitPackets with a packet queued: %v", err)
		}
		n, err := ep.PollPackets(in)
		if err != nil {
			t.Fatalf("PollPackets after WaitPackets: %v", err)
		}
		got = n
	}
	first := append([]byte(nil), in[0].Data...)
	CloseUnblocks(t, ep, "WaitPackets", ep.WaitPackets)
	if _, err := ep.PollPackets(in); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("PollPackets after Close = %v, want link.ErrClosed", err)
	}
	return first
}

// CloseUnblocks runs blocked, a call on ep named what that waits for a
// packet, closes ep while it waits, and checks that the call returns
// link.ErrClosed promptly.
func CloseUnblocks(t testing.TB, ep link.Endpoint, what string, blocked func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- blocked() }()
	time.Sleep(20 * time.Millisecond) // let it block; the check passes either way
	if err := ep.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, link.ErrClosed) {
			t.Fatalf("%s after Close = %v, want link.ErrClosed", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s still blocked 5s after Close", what)
	}
}

// errWaitTimeout is waitWithin's report of a WaitPackets that did not
// return in time.
var errWaitTimeout = errors.New("WaitPackets did not return")

// waitWithin runs ep.WaitPackets and gives up on it after d.
func waitWithin(ep link.Poller, d time.Duration) error {
	woke := make(chan error, 1)
	go func() { woke <- ep.WaitPackets() }()
	select {
	case err := <-woke:
		return err
	case <-time.After(d):
		return errWaitTimeout
	}
}
