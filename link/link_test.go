package link_test

import (
	"testing"

	"github.com/tundra-net/tundra/link"
	"github.com/tundra-net/tundra/link/impair"
	"github.com/tundra-net/tundra/link/pipe"
)

// plainEndpoint has only link.Endpoint's methods: it cannot be polled.
type plainEndpoint struct{ link.Endpoint }

// Pollable finds a Poller, refuses an endpoint without Poller's methods,
// and asks a wrapper's CanPoll whether what it wraps can poll.
func TestPollable(t *testing.T) {
	a, _ := pipe.New(pipe.Options{})
	cases := []struct {
		name string
		ep   link.Endpoint
		want bool
	}{
		{"pipe", a, true},
		{"no Poller methods", plainEndpoint{a}, false},
		{"wrapper around a pipe", impair.New(a, impair.Config{}, nil), true},
		{"wrapper around a plain endpoint", impair.New(plainEndpoint{a}, impair.Config{}, nil), false},
		{"wrapper with its own read queue", impair.New(plainEndpoint{a}, impair.Config{Read: impair.Direction{Loss: 0.1}}, nil), true},
	}
	for _, c := range cases {
		if _, got := link.Pollable(c.ep); got != c.want {
			t.Errorf("%s: Pollable = %v, want %v", c.name, got, c.want)
		}
	}
}
