package stack

import (
	"sync"
	"time"
)

// tokenBucket limits a rate of events: tokens refill at rate per second up
// to burst, and each event takes one.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// allow takes a token if there is one at now.
func (b *tokenBucket) allow(now time.Time) bool {
	if b.rate < 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens += elapsed.Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
