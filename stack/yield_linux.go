package stack

import "syscall"

// yieldCPU gives the CPU to another runnable thread, if there is one
// (sched_yield(2)); the calling goroutine keeps its processor.
func yieldCPU() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
