package stack

import (
	"testing"
	"time"
)

// TestStackCloseWakesWaiters: Stack.Close ends a Read and a Write that
// wait without a deadline (they wait on their token channel alone, with
// no case for the stack's closing: Close aborts every connection, which
// wakes them) and an Accept.
func TestStackCloseWakesWaiters(t *testing.T) {
	a, s := stackPair(t, nil, Options{})
	reader, _ := connPair(t, a, s)
	writer, _ := connPair(t, a, s) // its peer never reads
	l, err := a.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	go func() {
		_, err := reader.Read(make([]byte, 1))
		errs <- err
	}()
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := writer.Write(buf); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() {
		_, err := l.Accept()
		errs <- err
	}()
	time.Sleep(50 * time.Millisecond) // let all three block
	a.Close()
	for range 3 {
		select {
		case err := <-errs:
			if err == nil {
				t.Error("a waiter returned no error after Stack.Close")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter still blocked 5 s after Stack.Close")
		}
	}
}
