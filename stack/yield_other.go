//go:build !linux

package stack

// yieldCPU does nothing where sched_yield(2) is not at hand: the busy poll
// then yields only the processor (runtime.Gosched).
func yieldCPU() {}
