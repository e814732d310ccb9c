package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{``, nil},
		{`a b  c`, []string{"a", "b", "c"}},
		{`a b "c d"`, []string{"a", "b", "c d"}},
		{`'x y'z "" q\ r`, []string{"x yz", "", "q r"}},
		{`"a \"b\" \n"`, []string{`a "b" \n`}},
		{`bin/runsc do --`, []string{"bin/runsc", "do", "--"}},
	} {
		got, err := splitWords(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`"open`, `'open`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("splitWords(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseSpec(t *testing.T) {
	src := "/* x */\n// rampart:args a \"b c\"\n// rampart:env FOO=bar E=\n// rampart:status 42\n// rampart:timeout 3s\n// rampart:variants dynamic static\nint main(){}\n"
	s, err := parseSpec("t", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{Name: "t", Args: []string{"a", "b c"}, Env: []string{"FOO=bar", "E="}, Status: 42, Timeout: 3 * time.Second, Variants: []string{"dynamic", "static"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("parseSpec = %+v, want %+v", s, want)
	}
	for _, bad := range []string{"// rampart:bogus 1\n", "// rampart:status 300\n", "// rampart:env NOEQUALS\n", "// rampart:timeout soon\n", "// rampart:retries 9\n", "// rampart:variants\n", "// rampart:variants static shared\n"} {
		if _, err := parseSpec("t", []byte(bad)); err == nil {
			t.Errorf("parseSpec(%q) succeeded, want an error", bad)
		}
	}
}

func TestDiff(t *testing.T) {
	got := diff([]byte("a\nb\nc\n"), []byte("a\nB\nc\nd\n"), 100)
	want := " a\n-b\n+B\n c\n+d"
	if got != want {
		t.Errorf("diff =\n%s\nwant\n%s", got, want)
	}
	if d := diff([]byte("same\n"), []byte("same\n"), 100); d != "" {
		t.Errorf("diff of equal inputs = %q, want empty", d)
	}
}

// script writes an executable shell script standing in for a test binary.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunCase(t *testing.T) {
	ok := script(t, `echo "ok args $*"; echo "ok FOO=$FOO"`)
	spec := Spec{Name: "t", Args: []string{"a", "b c"}, Env: []string{"FOO=bar"}}
	for _, tc := range []struct {
		name    string
		binary  string
		status  int
		sandbox []string
		want    Verdict
		detail  string
	}{
		{"same", ok, 0, []string{"env"}, Pass, ""},
		{"native only", ok, 0, nil, Pass, ""},
		{"extra output", ok, 0, []string{"sh", "-c", `echo extra; exec "$@"`, "sh"}, Fail, "+extra"},
		{"env dropped", ok, 0, []string{"env", "-u", "FOO"}, Fail, "-ok FOO=bar"},
		{"status differs", ok, 0, []string{"sh", "-c", `"$@"; exit 7`, "sh"}, Fail, "exit status 7, native 0"},
		{"sandbox panics", ok, 0, []string{"sh", "-c", `"$@"; echo "panic: oops" >&2; echo "goroutine 1 [running]:" >&2`, "sh"}, Fail, "panicked"},
		{"sandbox missing", ok, 0, []string{"/nonexistent/runsc"}, Fail, "did not start"},
		{"native FAIL line", script(t, `echo "FAIL x: y"`), 0, []string{"env"}, Broken, "check failed"},
		{"native status", script(t, `exit 3`), 0, []string{"env"}, Broken, "exit status 3, want 0"},
		{"expected status", script(t, `echo bye; exit 42`), 42, []string{"env"}, Pass, ""},
		{"signal", script(t, `kill -ABRT $$`), 134, []string{"env"}, Pass, ""},
		{"timeout", script(t, `sleep 30`), 0, []string{"env"}, Broken, "timed out"},
		{"not built", "/nonexistent/test", 0, []string{"env"}, Broken, "not built"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spec
			s.Status = tc.status
			c := Case{Spec: s, Variant: "static", Binary: tc.binary}
			start := time.Now()
			r := runCase(c, tc.sandbox, 2*time.Second)
			if r.Verdict != tc.want || !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("verdict %v, detail %q; want %v with %q", r.Verdict, r.Detail, tc.want, tc.detail)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestRunAllOrderAndParallelism(t *testing.T) {
	bin := script(t, `echo "ok $1"`)
	var cases []Case
	for _, a := range []string{"1", "2", "3", "4", "5"} {
		cases = append(cases, Case{Spec: Spec{Name: a, Args: []string{a}}, Variant: "static", Binary: bin})
	}
	reported := 0
	rs := runAll(cases, []string{"env"}, 2, 5*time.Second, func(Result) { reported++ })
	if reported != len(cases) {
		t.Errorf("reported %d results, want %d", reported, len(cases))
	}
	for i, r := range rs {
		if r.Case.Spec.Name != cases[i].Spec.Name || r.Verdict != Pass || string(r.Native.Stdout) != "ok "+cases[i].Spec.Name+"\n" {
			t.Errorf("result %d = %v %v %q", i, r.Case, r.Verdict, r.Native.Stdout)
		}
	}
}

func TestRetries(t *testing.T) {
	dir := t.TempDir()
	// Fails natively on its first run only: a retry passes.
	flaky := script(t, `f=`+dir+`/ran; if [ -e $f ]; then echo ok; else touch $f; echo "FAIL x: first"; fi`)
	c := Case{Spec: Spec{Name: "t", Retries: 2}, Variant: "static", Binary: flaky}
	r := runCase(c, []string{"env"}, 2*time.Second)
	if r.Verdict != Pass || len(r.Retried) != 1 || !strings.Contains(r.Retried[0], "BROKEN") {
		t.Errorf("flaky: verdict %v after %q; want PASS after one BROKEN attempt", r.Verdict, r.Retried)
	}
	// A deterministic failure fails every attempt.
	c.Binary = script(t, `echo ok`)
	r = runCase(c, []string{"sh", "-c", `echo extra; exec "$@"`, "sh"}, 2*time.Second)
	if r.Verdict != Fail || len(r.Retried) != 2 {
		t.Errorf("always failing: verdict %v after %d retries; want FAIL after 2", r.Verdict, len(r.Retried))
	}
	// Without retries, one attempt.
	c.Spec.Retries = 0
	r = runCase(c, []string{"sh", "-c", `echo extra; exec "$@"`, "sh"}, 2*time.Second)
	if r.Verdict != Fail || len(r.Retried) != 0 {
		t.Errorf("no retries: verdict %v after %d retries", r.Verdict, len(r.Retried))
	}
}
