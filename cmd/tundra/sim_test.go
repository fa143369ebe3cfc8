package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimCommandIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	var outputs []string
	var plots []string
	for range 2 {
		var stdout, stderr bytes.Buffer
		trace := filepath.Join(dir, "trace.jsonl")
		code := run([]string{"sim", "-size", "300KB", "-loss", "0.02", "-delay", "15ms", "-rate", "5mbit",
			"-seed", "42", "-plots", dir, "-trace", trace}, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("tundra sim exited %d: %s", code, stderr.String())
		}
		outputs = append(outputs, stdout.String())
		var all []byte
		for _, name := range []string{"sim-cwnd.svg", "sim-rtt.svg", "sim-seq.svg", "trace.jsonl"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		plots = append(plots, string(all))
	}
	if outputs[0] != outputs[1] {
		t.Errorf("same seed, different output:\n%s\n---\n%s", outputs[0], outputs[1])
	}
	if plots[0] != plots[1] {
		t.Errorf("same seed, different plots or trace")
	}
	for _, want := range []string{"goodput:", "retransmitted", "300 KB with cubic", "sim-cwnd.svg"} {
		if !strings.Contains(outputs[0], want) {
			t.Errorf("output lacks %q:\n%s", want, outputs[0])
		}
	}
}

func TestSimCommandRejects(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "-cc", "bbr"},
		{"sim", "-rate", "fast"},
		{"sim", "-size", "lots"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 {
			t.Errorf("%v succeeded", args)
		}
	}
}
