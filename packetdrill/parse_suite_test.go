package packetdrill

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// suiteDir holds the FreeBSD TCP test suite shared with the project.
const suiteDir = "../../shared/conformance/freebsd-tcp-testsuite"

// suiteScripts lists the suite's .pkt files, skipping the test when the
// shared directory is not present (a checkout without the data).
func suiteScripts(t *testing.T) []string {
	t.Helper()
	if _, err := os.Stat(suiteDir); err != nil {
		t.Skipf("conformance suite not found at %s: %v", suiteDir, err)
	}
	var paths []string
	err := filepath.WalkDir(suiteDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".pkt") {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestParseWholeSuite parses all 360 scripts of the FreeBSD suite, with
// each set of defines the scripts test, and checks the result is sane.
func TestParseWholeSuite(t *testing.T) {
	paths := suiteScripts(t)
	if len(paths) != 360 {
		t.Errorf("found %d scripts, want 360", len(paths))
	}
	for _, defines := range [][]string{{"STANDARD"}, {"FreeBSD"}, nil} {
		for _, path := range paths {
			s, err := ParseFile(path, ParseOptions{Defines: defines})
			if err != nil {
				t.Errorf("defines %v: %v", defines, err)
				continue
			}
			if v, ok := s.Option("ip_version"); !ok || v != "ipv4" {
				t.Errorf("%s: --ip_version = %q, %v; want ipv4", path, v, ok)
			}
			if len(s.Events) < 3 {
				t.Errorf("%s: only %d events", path, len(s.Events))
			}
		}
	}
}

// TestRunWholeSuiteAgainstFake runs every script against the in-test fake
// TCP. The fake implements little, so most scripts fail; the point is that
// each run ends in a pass or a well-formed failure that names a line of
// the script, never in a panic or a hang.
func TestRunWholeSuiteAgainstFake(t *testing.T) {
	counts := map[string]int{}
	for _, path := range suiteScripts(t) {
		s, err := ParseFile(path, ParseOptions{Defines: []string{"STANDARD"}})
		if err != nil {
			t.Fatal(err)
		}
		err = Run(s, RunOptions{NewTarget: newFakeTarget})
		var f *Failure
		switch {
		case err == nil:
			counts["pass"]++
		case errors.Is(err, ErrUnsupported):
			counts["unsupported"]++
		case errors.As(err, &f):
			counts["fail"]++
			if f.Pos.Line < 1 || f.Msg == "" || f.Path != path {
				t.Errorf("malformed failure %#v", f)
			}
		default:
			t.Errorf("%s: error of type %T: %v", path, err, err)
		}
	}
	t.Logf("against the fake: %v", counts)
	if counts["unsupported"] > 10 {
		t.Errorf("%d scripts hit unsupported features; the suite needs at most 5 (MD5, UDP encapsulation)", counts["unsupported"])
	}
}
