package conformance

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tundra-net/tundra/packetdrill"
	"github.com/tundra-net/tundra/packetdrill/stacktarget"
)

var update = flag.Bool("update", false, "rewrite expectations.txt with the current results")

// suiteDir holds the FreeBSD suite, shared by the project.
const suiteDir = "../../shared/conformance/freebsd-tcp-testsuite"

const expectationsFile = "expectations.txt"

// result is one script's outcome as expectations.txt records it.
type result struct {
	pass   bool
	reason string
}

func (r result) line(path string) string {
	if r.pass {
		return "PASS " + path
	}
	return "FAIL " + path + ": " + r.reason
}

// runSuite runs every script with the STANDARD defines, as
// "tundra packetdrill" does by default.
func runSuite(t *testing.T) map[string]result {
	t.Helper()
	if _, err := os.Stat(suiteDir); err != nil {
		t.Skipf("conformance suite not found at %s: %v", suiteDir, err)
	}
	results := map[string]result{}
	err := filepath.WalkDir(suiteDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pkt") {
			return err
		}
		rel, _ := filepath.Rel(suiteDir, path)
		s, err := packetdrill.ParseFile(path, packetdrill.ParseOptions{Defines: []string{"STANDARD"}})
		if err == nil {
			err = packetdrill.Run(s, packetdrill.RunOptions{NewTarget: stacktarget.New})
		}
		results[rel] = outcome(err)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return results
}

// outcome turns Run's error into the one-line form of the CLI.
func outcome(err error) result {
	if err == nil {
		return result{pass: true}
	}
	var f *packetdrill.Failure
	if errors.As(err, &f) {
		msg := fmt.Sprintf("line %d: ", f.Pos.Line)
		if f.Event != "" {
			msg += f.Event + ": "
		}
		return result{reason: msg + f.Msg}
	}
	return result{reason: strings.ReplaceAll(err.Error(), "\n", " ")}
}

// readExpectations parses expectations.txt.
func readExpectations(t *testing.T) map[string]result {
	t.Helper()
	f, err := os.Open(expectationsFile)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	defer f.Close()
	exp := map[string]result{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "PASS "):
			exp[strings.TrimPrefix(line, "PASS ")] = result{pass: true}
		case strings.HasPrefix(line, "FAIL "):
			path, reason, _ := strings.Cut(strings.TrimPrefix(line, "FAIL "), ": ")
			exp[path] = result{reason: reason}
		default:
			t.Fatalf("%s:%d: malformed line %q", expectationsFile, n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return exp
}

func writeExpectations(t *testing.T, results map[string]result) {
	t.Helper()
	paths := make([]string, 0, len(results))
	passed := 0
	for p, r := range results {
		paths = append(paths, p)
		if r.pass {
			passed++
		}
	}
	sort.Strings(paths)
	var b strings.Builder
	fmt.Fprintf(&b, "# FreeBSD TCP test suite against tundra's stack (defines: STANDARD).\n")
	fmt.Fprintf(&b, "# Written by: go test ./conformance -update. %d passed, %d failed.\n", passed, len(paths)-passed)
	fmt.Fprintf(&b, "# Each FAIL gives the first difference; see README.md.\n")
	for _, p := range paths {
		b.WriteString(results[p].line(p) + "\n")
	}
	if err := os.WriteFile(expectationsFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFreeBSDSuite compares the suite's results with expectations.txt. A
// script that passed and now fails is an error; one that now passes, or
// fails differently, is logged so that the file can be updated.
func TestFreeBSDSuite(t *testing.T) {
	results := runSuite(t)
	if *update {
		writeExpectations(t, results)
		return
	}
	exp := readExpectations(t)
	for path, got := range results {
		want, ok := exp[path]
		switch {
		case !ok:
			t.Errorf("%s is not in %s (run go test -update)", path, expectationsFile)
		case want.pass && !got.pass:
			t.Errorf("regression: %s passed before, now: %s", path, got.reason)
		case !want.pass && got.pass:
			t.Logf("%s passes now; run go test -update to record it", path)
		case !want.pass && got.reason != want.reason:
			t.Logf("%s fails differently now: %s", path, got.reason)
		}
	}
	for path := range exp {
		if _, ok := results[path]; !ok {
			t.Errorf("%s is in %s but not in the suite", path, expectationsFile)
		}
	}
}

// BenchmarkFreeBSDSuite runs all 360 scripts against the stack once per
// iteration: the cost of a full conformance run on the virtual clock.
func BenchmarkFreeBSDSuite(b *testing.B) {
	if _, err := os.Stat(suiteDir); err != nil {
		b.Skipf("conformance suite not found: %v", err)
	}
	var scripts []*packetdrill.Script
	filepath.WalkDir(suiteDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".pkt") {
			s, err := packetdrill.ParseFile(path, packetdrill.ParseOptions{Defines: []string{"STANDARD"}})
			if err != nil {
				b.Fatal(err)
			}
			scripts = append(scripts, s)
		}
		return nil
	})
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range scripts {
			packetdrill.Run(s, packetdrill.RunOptions{NewTarget: stacktarget.New})
		}
	}
	b.ReportMetric(float64(len(scripts)), "scripts/op")
}
