package stack

import (
	"sync"
	"time"

	"github.com/tundra-net/tundra/clock"
)

// deadline is a socket's read or write deadline on the stack's clock. Its
// fields are guarded by the socket's mutex; a timer closes ch when the
// deadline passes, and every change wakes the socket's waiters so that a
// blocked Read or Write sees it.
type deadline struct {
	mu      *sync.Mutex // the socket's, guarding the fields below
	clk     clock.Clock
	wakeAll func() // wakes the socket's waiters; called with mu held
	timer   clock.Timer
	ch      chan struct{} // closed when the deadline passes; nil: no deadline
	// wake holds a token when something changed since the call that waits
	// on this deadline last looked (TCP's Read and Write; nil elsewhere).
	wake chan struct{}
}

// init ties the deadline to its socket.
func (d *deadline) init(mu *sync.Mutex, clk clock.Clock, wakeAll func()) {
	d.mu, d.clk, d.wakeAll = mu, clk, wakeAll
}

// set changes the deadline (mu held); zero means none.
func (d *deadline) set(t time.Time) {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.ch = nil
	if !t.IsZero() {
		ch := make(chan struct{})
		d.ch = ch
		if wait := t.Sub(d.clk.Now()); wait <= 0 {
			close(ch)
		} else {
			d.timer = d.clk.AfterFunc(wait, func() {
				d.mu.Lock()
				if d.ch == ch {
					close(ch)
				}
				d.mu.Unlock()
			})
		}
	}
	d.wakeAll()
}

// expired reports whether the deadline has passed (mu held).
func (d *deadline) expired() bool {
	if d.ch == nil {
		return false
	}
	select {
	case <-d.ch:
		return true
	default:
		return false
	}
}

// done returns a channel closed when the deadline passes, or nil (mu
// held).
func (d *deadline) done() <-chan struct{} { return d.ch }

// changeSignal lets any number of goroutines wait for a socket's next
// change: changed hands out a channel, broadcast closes it. The socket's
// mutex guards it; the channel is made only when someone waits.
type changeSignal struct {
	ch chan struct{}
}

// changed returns a channel closed at the next broadcast (mu held).
func (c *changeSignal) changed() <-chan struct{} {
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// broadcast wakes everyone waiting on changed (mu held).
func (c *changeSignal) broadcast() {
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}
