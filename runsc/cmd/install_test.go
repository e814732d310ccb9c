package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return m
}

func TestInstallCreatesMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docker", "daemon.json")
	if err := installRuntime(path, "runsc", "/opt/runsc", nil); err != nil {
		t.Fatal(err)
	}
	got := readJSON(t, path)
	want := map[string]any{"runtimes": map[string]any{"runsc": map[string]any{"path": "/opt/runsc"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestInstallKeepsOtherKeysAndUninstall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "daemon.json")
	orig := `{"log-level": "warn", "default-runtime": "runc", "storage-opts": ["a", "b"],
		"runtimes": {"other": {"path": "/usr/bin/other", "runtimeArgs": ["--x"]}}}`
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := installRuntime(path, "rampart", "/opt/runsc", []string{"--platform=ptrace", "--debug"}); err != nil {
		t.Fatal(err)
	}
	got := readJSON(t, path)
	if got["log-level"] != "warn" || got["default-runtime"] != "runc" || !reflect.DeepEqual(got["storage-opts"], []any{"a", "b"}) {
		t.Errorf("other keys changed: %v", got)
	}
	rts := got["runtimes"].(map[string]any)
	if !reflect.DeepEqual(rts["other"], map[string]any{"path": "/usr/bin/other", "runtimeArgs": []any{"--x"}}) {
		t.Errorf("other runtime changed: %v", rts["other"])
	}
	if !reflect.DeepEqual(rts["rampart"], map[string]any{"path": "/opt/runsc", "runtimeArgs": []any{"--platform=ptrace", "--debug"}}) {
		t.Errorf("runtime: %v", rts["rampart"])
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode not kept: %v %v", st.Mode(), err)
	}

	// Installing again replaces the entry.
	if err := installRuntime(path, "rampart", "/opt/runsc2", nil); err != nil {
		t.Fatal(err)
	}
	rts = readJSON(t, path)["runtimes"].(map[string]any)
	if !reflect.DeepEqual(rts["rampart"], map[string]any{"path": "/opt/runsc2"}) {
		t.Errorf("reinstalled runtime: %v", rts["rampart"])
	}

	if err := uninstallRuntime(path, "rampart"); err != nil {
		t.Fatal(err)
	}
	got = readJSON(t, path)
	rts = got["runtimes"].(map[string]any)
	if _, ok := rts["rampart"]; ok || rts["other"] == nil || got["log-level"] != "warn" {
		t.Errorf("after uninstall: %v", got)
	}
	if err := uninstallRuntime(path, "rampart"); err == nil {
		t.Error("uninstall of a missing runtime succeeded")
	}
	if err := uninstallRuntime(path, "other"); err != nil {
		t.Fatal(err)
	}
	if _, ok := readJSON(t, path)["runtimes"]; ok {
		t.Error("empty runtimes kept")
	}
}

func TestInstallRefusesBadJSON(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{`{"runtimes": `, `[1, 2]`, `{"runtimes": [1]}`} {
		path := filepath.Join(dir, "daemon.json")
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := installRuntime(path, "runsc", "/opt/runsc", nil); err == nil {
			t.Errorf("install into %q succeeded", bad)
		}
		if b, _ := os.ReadFile(path); string(b) != bad {
			t.Errorf("file changed to %q", b)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}
