// Package clock gives the stack its sense of time.
//
// Nothing in tundra reads the system clock directly. A Stack is given a
// Clock: Real for ordinary use, or a Virtual clock that only moves when a test
// or the simulator advances it. Protocol code below the stack never sees a
// Clock at all; it is handed "now" as an argument, which is what makes it
// testable one step at a time.
package clock

import (
	"container/heap"
	"sync"
	"time"
)

// Clock tells the time and runs functions later.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed, unless the
	// returned Timer is stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started; it reports whether it
	// did so.
	Stop() bool
	// Reset makes the call happen d from now instead (or again, if it
	// already happened); it reports whether the timer was still pending.
	Reset(d time.Duration) bool
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Virtual is a clock that moves only when Advance, AdvanceTo or
// AdvanceToNext is called. Functions whose time has come run synchronously
// inside those calls, in deadline order (ties in the order they were set),
// on the caller's goroutine, without the clock's lock held, so they may set
// new timers. It is safe for concurrent use.
type Virtual struct {
	mu     sync.Mutex
	now    time.Time
	timers timerHeap
	seq    uint64
}

// NewVirtual returns a virtual clock that reads start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start} }

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// AfterFunc schedules f at Now()+d.
func (v *Virtual) AfterFunc(d time.Duration, f func()) Timer {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := &virtualTimer{clock: v, f: f, index: -1}
	v.schedule(t, d)
	return t
}

func (v *Virtual) schedule(t *virtualTimer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	v.seq++
	t.when, t.seq = v.now.Add(d), v.seq
	heap.Push(&v.timers, t)
}

// Advance moves the clock forward by d, running every function due by then.
func (v *Virtual) Advance(d time.Duration) { v.AdvanceTo(v.Now().Add(d)) }

// AdvanceTo moves the clock to t (never backwards), running every function
// due by then; the clock reads each function's deadline while it runs.
func (v *Virtual) AdvanceTo(t time.Time) {
	for {
		v.mu.Lock()
		if len(v.timers) == 0 || v.timers[0].when.After(t) {
			if t.After(v.now) {
				v.now = t
			}
			v.mu.Unlock()
			return
		}
		next := heap.Pop(&v.timers).(*virtualTimer)
		if next.when.After(v.now) {
			v.now = next.when
		}
		v.mu.Unlock()
		next.f()
	}
}

// AdvanceToNext moves the clock to the earliest pending deadline and runs
// what is due then. It reports false, and does nothing, if no timer is
// pending.
func (v *Virtual) AdvanceToNext() bool {
	v.mu.Lock()
	if len(v.timers) == 0 {
		v.mu.Unlock()
		return false
	}
	when := v.timers[0].when
	v.mu.Unlock()
	v.AdvanceTo(when)
	return true
}

// Pending returns how many timers are waiting.
func (v *Virtual) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.timers)
}

// NextDeadline returns the earliest pending deadline, and false if there is
// none.
func (v *Virtual) NextDeadline() (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.timers) == 0 {
		return time.Time{}, false
	}
	return v.timers[0].when, true
}

type virtualTimer struct {
	clock *Virtual
	f     func()
	when  time.Time
	seq   uint64
	index int // position in the heap, -1 when not pending
}

func (t *virtualTimer) Stop() bool {
	v := t.clock
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&v.timers, t.index)
	return true
}

func (t *virtualTimer) Reset(d time.Duration) bool {
	v := t.clock
	v.mu.Lock()
	defer v.mu.Unlock()
	pending := t.index >= 0
	if pending {
		heap.Remove(&v.timers, t.index)
	}
	v.schedule(t, d)
	return pending
}

type timerHeap []*virtualTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].when.Equal(h[j].when) {
		return h[i].seq < h[j].seq
	}
	return h[i].when.Before(h[j].when)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*virtualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
